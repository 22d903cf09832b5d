package dockerctl

import (
	"encoding/json"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

const (
	appID  = "0450a53038348092598db31bca62d3087412af17aa49ba100698e70298dc3227"
	vpnID  = "7e3b2679490ed70f3f1d8c1dddbd1b52dc865c56a4f9f007cf24154fc6c98eee"
	newRef = "nextcloud:30-apache"
)

const imagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// nextcloudApp is how Docker shows the app container of a compose project
// (services app and db, plus a "proxy" network shared with a reverse proxy): the
// old image's defaults merged into what compose asked for. Each call builds a
// fresh value, so a test can compare old against one the code never saw.
func nextcloudApp() container.InspectResponse {
	return container.InspectResponse{
		ID:    appID,
		Name:  "/nextcloud-app-1",
		Image: "sha256:9b2c6f0d7a1e4c3b8a5d2f1e0c9b8a7d6e5f4c3b2a1908f7e6d5c4b3a2918071",
		Config: &container.Config{
			Hostname: appID[:12],
			Env: []string{
				imagePath,
				"PHP_VERSION=8.2.28",
				"PHP_UPLOAD_LIMIT=10G", // the image says 512M
				"POSTGRES_HOST=db",
				"NEXTCLOUD_TRUSTED_DOMAINS=cloud.example.org",
			},
			Cmd:        []string{"apache2-foreground"},
			Entrypoint: []string{"/entrypoint.sh"},
			WorkingDir: "/var/www/html",
			StopSignal: "SIGWINCH",
			Healthcheck: &container.HealthConfig{
				Test:     []string{"CMD-SHELL", "curl -fsS http://localhost/status.php || exit 1"},
				Interval: 30 * time.Second,
				Timeout:  5 * time.Second,
				Retries:  3,
			},
			Image: "nextcloud:29-apache",
			Labels: map[string]string{
				"com.docker.compose.config-hash":          "5c0d6d1a8c7e2b9f4a3d1e0c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a",
				"com.docker.compose.container-number":     "1",
				"com.docker.compose.depends_on":           "db:service_started:false",
				"com.docker.compose.image":                "sha256:9b2c6f0d7a1e4c3b8a5d2f1e0c9b8a7d6e5f4c3b2a1908f7e6d5c4b3a2918071",
				"com.docker.compose.oneoff":               "False",
				"com.docker.compose.project":              "nextcloud",
				"com.docker.compose.project.config_files": "/srv/nextcloud/compose.yaml",
				"com.docker.compose.project.working_dir":  "/srv/nextcloud",
				"com.docker.compose.service":              "app",
				"com.docker.compose.version":              "2.29.7",
				"org.opencontainers.image.source":         "https://github.com/nextcloud/docker",
				"org.opencontainers.image.version":        "1.0",
				"traefik.enable":                          "true",
			},
			ExposedPorts: network.PortSet{
				network.MustParsePort("80/tcp"):   {},
				network.MustParsePort("9000/tcp"): {},
			},
			Volumes: map[string]struct{}{"/var/www/html": {}},
		},
		HostConfig: &container.HostConfig{
			Binds: []string{
				"nextcloud_nextcloud:/var/www/html:rw",
				"/srv/nextcloud/config:/var/www/html/config:rw",
			},
			NetworkMode: "nextcloud_default",
			PortBindings: network.PortMap{
				network.MustParsePort("80/tcp"): {{HostPort: "8080"}},
			},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
			LogConfig:     container.LogConfig{Type: "json-file"},
			Resources:     container.Resources{Memory: 1 << 30},
		},
		NetworkSettings: &container.NetworkSettings{
			SandboxID: "c1d2e3f4a5b6",
			Ports: network.PortMap{
				network.MustParsePort("80/tcp"): {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8080"}},
			},
			Networks: map[string]*network.EndpointSettings{
				"nextcloud_default": {
					Aliases:     []string{"nextcloud-app-1", "app", appID[:12]},
					Links:       []string{"nextcloud-db-1:database"},
					NetworkID:   "a8f5e3c1d9b7a8f5e3c1d9b7a8f5e3c1d9b7a8f5e3c1d9b7a8f5e3c1d9b7a8f5",
					EndpointID:  "e1d2c3b4a5f6e1d2c3b4a5f6e1d2c3b4a5f6e1d2c3b4a5f6e1d2c3b4a5f6e1d2",
					Gateway:     netip.MustParseAddr("172.18.0.1"),
					IPAddress:   netip.MustParseAddr("172.18.0.3"),
					IPPrefixLen: 16,
					MacAddress:  mac("02:42:ac:12:00:03"),
					DNSNames:    []string{"nextcloud-app-1", "app", appID[:12]},
				},
				"proxy": {
					IPAMConfig:  &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("172.20.0.10")},
					Aliases:     []string{"cloud"},
					NetworkID:   "b7a8f5e3c1d9b7a8f5e3c1d9b7a8f5e3c1d9b7a8f5e3c1d9b7a8f5e3c1d9b7a8",
					EndpointID:  "f6e1d2c3b4a5f6e1d2c3b4a5f6e1d2c3b4a5f6e1d2c3b4a5f6e1d2c3b4a5f6e1",
					Gateway:     netip.MustParseAddr("172.20.0.1"),
					IPAddress:   netip.MustParseAddr("172.20.0.10"),
					IPPrefixLen: 24,
					MacAddress:  mac("02:42:ac:14:00:0a"),
					DNSNames:    []string{"nextcloud-app-1", "cloud", appID[:12]},
				},
			},
		},
	}
}

// nextcloudImage is the config of the image nextcloudApp runs.
func nextcloudImage() *v1.DockerOCIImageConfig {
	img := &v1.DockerOCIImageConfig{}
	img.Env = []string{imagePath, "PHP_VERSION=8.2.28", "PHP_UPLOAD_LIMIT=512M"}
	img.Cmd = []string{"apache2-foreground"}
	img.Entrypoint = []string{"/entrypoint.sh"}
	img.WorkingDir = "/var/www/html"
	img.StopSignal = "SIGWINCH"
	img.Labels = map[string]string{
		"org.opencontainers.image.source":  "https://github.com/nextcloud/docker",
		"org.opencontainers.image.version": "1.0",
	}
	img.Volumes = map[string]struct{}{"/var/www/html": {}}
	img.ExposedPorts = map[string]struct{}{"80/tcp": {}}
	img.Healthcheck = &v1.HealthcheckConfig{
		Test:     []string{"CMD-SHELL", "curl -fsS http://localhost/status.php || exit 1"},
		Interval: 30 * time.Second,
		Timeout:  5 * time.Second,
		Retries:  3,
	}
	return img
}

func mac(s string) network.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return network.HardwareAddr(hw)
}

// onlyNetwork puts old on a network mode that brings its network with it, with
// the endpoints Docker shows for that mode.
func onlyNetwork(mode string, endpoints map[string]*network.EndpointSettings) func(*container.InspectResponse, *v1.DockerOCIImageConfig) {
	return func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
		old.HostConfig.NetworkMode = container.NetworkMode(mode)
		old.HostConfig.PortBindings = nil
		old.NetworkSettings.Ports = nil
		old.NetworkSettings.Networks = endpoints
	}
}

func portNames(set network.PortSet) []string {
	var names []string
	for p := range set {
		names = append(names, p.String())
	}
	slices.Sort(names)
	return names
}

func keys[V any](m map[string]V) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestPlanRecreate(t *testing.T) {
	healthcheck := func(test string, interval time.Duration) *container.HealthConfig {
		return &container.HealthConfig{Test: []string{"CMD-SHELL", test}, Interval: interval}
	}
	// Without the old image only the reference and Docker's default hostname change.
	allKept := nextcloudApp().Config
	allKept.Image = newRef
	allKept.Hostname = ""

	tests := []struct {
		name    string
		edit    func(old *container.InspectResponse, img *v1.DockerOCIImageConfig)
		noImage bool // the old image is gone
		got     func(Plan) any
		want    any
	}{
		{
			name: "name without the leading slash",
			got:  func(p Plan) any { return p.Name },
			want: "nextcloud-app-1",
		},
		{
			name: "new image reference",
			got:  func(p Plan) any { return p.Config.Image },
			want: newRef,
		},
		{
			name: "environment keeps the owner's variables and overrides, not the image's",
			got:  func(p Plan) any { return p.Config.Env },
			want: []string{"PHP_UPLOAD_LIMIT=10G", "POSTGRES_HOST=db", "NEXTCLOUD_TRUSTED_DOMAINS=cloud.example.org"},
		},
		{
			name: "image command left to the new image",
			got:  func(p Plan) any { return p.Config.Cmd },
			want: []string(nil),
		},
		{
			name: "owner's command kept",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.Config.Cmd = []string{"apache2-foreground", "-DFOREGROUND"}
			},
			got:  func(p Plan) any { return p.Config.Cmd },
			want: []string{"apache2-foreground", "-DFOREGROUND"},
		},
		{
			name: "image entrypoint left to the new image",
			got:  func(p Plan) any { return p.Config.Entrypoint },
			want: []string(nil),
		},
		{
			name: "owner's entrypoint kept (the cron service)",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.Config.Entrypoint = []string{"/cron.sh"}
				old.Config.Cmd = nil // Docker takes no image Cmd when the entrypoint is set
			},
			got:  func(p Plan) any { return [][]string{p.Config.Entrypoint, p.Config.Cmd} },
			want: [][]string{{"/cron.sh"}, nil},
		},
		{
			name: "image working directory left to the new image",
			got:  func(p Plan) any { return p.Config.WorkingDir },
			want: "",
		},
		{
			name: "owner's working directory kept",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.Config.WorkingDir = "/var/www/html/apps"
			},
			got:  func(p Plan) any { return p.Config.WorkingDir },
			want: "/var/www/html/apps",
		},
		{
			name: "image user left to the new image",
			edit: func(old *container.InspectResponse, img *v1.DockerOCIImageConfig) {
				img.User = "www-data"
				old.Config.User = "www-data"
			},
			got:  func(p Plan) any { return p.Config.User },
			want: "",
		},
		{
			name: "owner's user kept",
			edit: func(old *container.InspectResponse, img *v1.DockerOCIImageConfig) {
				img.User = "www-data"
				old.Config.User = "33:33"
			},
			got:  func(p Plan) any { return p.Config.User },
			want: "33:33",
		},
		{
			name: "image stop signal left to the new image",
			got:  func(p Plan) any { return p.Config.StopSignal },
			want: "",
		},
		{
			name: "owner's stop signal kept",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.Config.StopSignal = "SIGTERM"
			},
			got:  func(p Plan) any { return p.Config.StopSignal },
			want: "SIGTERM",
		},
		{
			name: "image shell left to the new image",
			edit: func(old *container.InspectResponse, img *v1.DockerOCIImageConfig) {
				img.Shell = []string{"/bin/bash", "-c"}
				old.Config.Shell = []string{"/bin/bash", "-c"}
			},
			got:  func(p Plan) any { return p.Config.Shell },
			want: []string(nil),
		},
		{
			name: "image health check left to the new image",
			got:  func(p Plan) any { return p.Config.Healthcheck },
			want: (*container.HealthConfig)(nil),
		},
		{
			name: "owner's health check kept",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.Config.Healthcheck = healthcheck("curl -fsS http://localhost:8080/status.php", time.Minute)
			},
			got:  func(p Plan) any { return p.Config.Healthcheck },
			want: healthcheck("curl -fsS http://localhost:8080/status.php", time.Minute),
		},
		{
			// compose `healthcheck: {interval: 1m}`: Docker fills the test, timeout and
			// retries in from the image, so the old image's test shows up in the inspection.
			name: "owner's health check interval kept without pinning the old image's test",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.Config.Healthcheck.Interval = time.Minute
			},
			got:  func(p Plan) any { return p.Config.Healthcheck },
			want: &container.HealthConfig{Interval: time.Minute},
		},
		{
			name: "compose and owner's labels kept, image labels left to the new image",
			got:  func(p Plan) any { return p.Config.Labels },
			want: map[string]string{
				"com.docker.compose.config-hash":          "5c0d6d1a8c7e2b9f4a3d1e0c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a",
				"com.docker.compose.container-number":     "1",
				"com.docker.compose.depends_on":           "db:service_started:false",
				"com.docker.compose.image":                "sha256:9b2c6f0d7a1e4c3b8a5d2f1e0c9b8a7d6e5f4c3b2a1908f7e6d5c4b3a2918071",
				"com.docker.compose.oneoff":               "False",
				"com.docker.compose.project":              "nextcloud",
				"com.docker.compose.project.config_files": "/srv/nextcloud/compose.yaml",
				"com.docker.compose.project.working_dir":  "/srv/nextcloud",
				"com.docker.compose.service":              "app",
				"com.docker.compose.version":              "2.29.7",
				"traefik.enable":                          "true",
			},
		},
		{
			name: "image label the owner overrode kept",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.Config.Labels["org.opencontainers.image.source"] = "https://git.example.org/nextcloud"
			},
			got:  func(p Plan) any { return p.Config.Labels["org.opencontainers.image.source"] },
			want: "https://git.example.org/nextcloud",
		},
		{
			name: "image volumes left to the new image, owner's anonymous volume kept",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.Config.Volumes["/tmp/previews"] = struct{}{}
			},
			got:  func(p Plan) any { return keys(p.Config.Volumes) },
			want: []string{"/tmp/previews"},
		},
		{
			name: "image exposed ports left to the new image, owner's kept",
			got:  func(p Plan) any { return portNames(p.Config.ExposedPorts) },
			want: []string{"9000/tcp"},
		},
		{
			name: "binds kept",
			got:  func(p Plan) any { return p.HostConfig.Binds },
			want: []string{"nextcloud_nextcloud:/var/www/html:rw", "/srv/nextcloud/config:/var/www/html/config:rw"},
		},
		{
			name: "published ports kept",
			got:  func(p Plan) any { return p.HostConfig.PortBindings },
			want: network.PortMap{network.MustParsePort("80/tcp"): {{HostPort: "8080"}}},
		},
		{
			name: "restart policy kept",
			got:  func(p Plan) any { return p.HostConfig.RestartPolicy },
			want: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		},
		{
			name: "memory limit kept",
			got:  func(p Plan) any { return p.HostConfig.Memory },
			want: int64(1 << 30),
		},
		{
			name: "host config kept whole",
			got:  func(p Plan) any { return p.HostConfig },
			want: nextcloudApp().HostConfig,
		},
		{
			name: "network mode kept",
			got:  func(p Plan) any { return p.HostConfig.NetworkMode },
			want: container.NetworkMode("nextcloud_default"),
		},
		{
			name: "Docker's default hostname left for the new container",
			got:  func(p Plan) any { return p.Config.Hostname },
			want: "",
		},
		{
			name: "owner's hostname kept",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.Config.Hostname = "cloud"
			},
			got:  func(p Plan) any { return p.Config.Hostname },
			want: "cloud",
		},
		{
			name: "compose network: aliases and links kept, short ID alias and runtime addresses not",
			got:  func(p Plan) any { return p.Networks["nextcloud_default"] },
			want: &network.EndpointSettings{
				Aliases: []string{"nextcloud-app-1", "app"},
				Links:   []string{"nextcloud-db-1:database"},
			},
		},
		{
			name: "proxy network: static address and alias kept, runtime addresses not",
			got:  func(p Plan) any { return p.Networks["proxy"] },
			want: &network.EndpointSettings{
				IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("172.20.0.10")},
				Aliases:    []string{"cloud"},
			},
		},
		{
			name: "only the container's networks",
			got:  func(p Plan) any { return keys(p.Networks) },
			want: []string{"nextcloud_default", "proxy"},
		},
		{
			name: "owner's driver options kept",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.NetworkSettings.Networks["proxy"].DriverOpts = map[string]string{"com.docker.network.endpoint.sysctls": "net.ipv4.conf.IFNAME.log_martians=1"}
			},
			got:  func(p Plan) any { return p.Networks["proxy"].DriverOpts },
			want: map[string]string{"com.docker.network.endpoint.sysctls": "net.ipv4.conf.IFNAME.log_martians=1"},
		},
		{
			// compose `networks: {proxy: {gw_priority: 10}}`: the default route goes
			// through proxy; without it the container routes through nextcloud_default.
			name: "owner's gateway priority kept",
			edit: func(old *container.InspectResponse, _ *v1.DockerOCIImageConfig) {
				old.NetworkSettings.Networks["proxy"].GwPriority = 10
			},
			got: func(p Plan) any {
				if ep := p.Networks["proxy"]; ep != nil {
					return ep.GwPriority
				}
				return nil
			},
			want: 10,
		},
		{
			name: "host network mode: no endpoints",
			edit: onlyNetwork("host", map[string]*network.EndpointSettings{
				"host": {NetworkID: "d4c3b2a1", EndpointID: "a1b2c3d4"},
			}),
			got:  func(p Plan) any { return len(p.Networks) },
			want: 0,
		},
		{
			name: "none network mode: no endpoints",
			edit: onlyNetwork("none", map[string]*network.EndpointSettings{
				"none": {NetworkID: "c3b2a1d4", EndpointID: "b2c3d4a1"},
			}),
			got:  func(p Plan) any { return len(p.Networks) },
			want: 0,
		},
		{
			// Docker copies the hostname of the container whose network is joined into
			// this one's config, and refuses to create a container that has both a
			// hostname and a container: network mode ("conflicting options: hostname
			// and the network mode").
			name: "container network mode: the joined container's hostname not carried",
			edit: func(old *container.InspectResponse, img *v1.DockerOCIImageConfig) {
				onlyNetwork("container:"+vpnID, map[string]*network.EndpointSettings{})(old, img)
				old.Config.Hostname = vpnID[:12]
			},
			got:  func(p Plan) any { return p.Config.Hostname },
			want: "",
		},
		{
			name:    "old image gone: the whole config kept",
			noImage: true,
			got:     func(p Plan) any { return p.Config },
			want:    allKept,
		},
		{
			name:    "old image gone: networks still without runtime addresses",
			noImage: true,
			got:     func(p Plan) any { return p.Networks["nextcloud_default"] },
			want: &network.EndpointSettings{
				Aliases: []string{"nextcloud-app-1", "app"},
				Links:   []string{"nextcloud-db-1:database"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, img := nextcloudApp(), nextcloudImage()
			if tc.edit != nil {
				tc.edit(&old, img)
			}
			if tc.noImage {
				img = nil
			}
			got := tc.got(PlanRecreate(old, img, newRef))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %s\nwant %s", show(got), show(tc.want))
			}
		})
	}
}

// TestPlanRecreateLeavesOldUnchanged: old is what Steward falls back to when the
// new container does not come up, so planning must not change it.
func TestPlanRecreateLeavesOldUnchanged(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(old *container.InspectResponse, img *v1.DockerOCIImageConfig)
		noImage bool
	}{
		{name: "with the old image"},
		{name: "without the old image", noImage: true},
		{name: "host network", edit: onlyNetwork("host", map[string]*network.EndpointSettings{"host": {EndpointID: "a1b2c3d4"}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, img := nextcloudApp(), nextcloudImage()
			want := nextcloudApp()
			if tc.edit != nil {
				tc.edit(&old, img)
				tc.edit(&want, nextcloudImage())
			}
			if tc.noImage {
				img = nil
			}
			PlanRecreate(old, img, newRef)
			if !reflect.DeepEqual(old, want) {
				t.Errorf("old changed:\ngot  %s\nwant %s", show(old), show(want))
			}
		})
	}
}

// TestPlanRecreateSharesNothingWithOld: a caller that adjusts the plan (frees a
// port, renames for a staged start) must not change old, or falling back to old
// recreates a container other than the one that ran.
func TestPlanRecreateSharesNothingWithOld(t *testing.T) {
	tests := []struct {
		name    string
		noImage bool
		change  func(p Plan)
	}{
		{name: "memory limit", change: func(p Plan) { p.HostConfig.Memory = 0 }},
		{name: "binds", change: func(p Plan) { p.HostConfig.Binds[0] = "/tmp:/var/www/html" }},
		{name: "published ports", change: func(p Plan) {
			p.HostConfig.PortBindings[network.MustParsePort("80/tcp")][0].HostPort = "9090"
		}},
		{name: "environment", change: func(p Plan) { p.Config.Env[0] = "PHP_UPLOAD_LIMIT=1G" }},
		{name: "labels", change: func(p Plan) { p.Config.Labels["traefik.enable"] = "false" }},
		{name: "exposed ports", change: func(p Plan) { p.Config.ExposedPorts[network.MustParsePort("443/tcp")] = struct{}{} }},
		{name: "network aliases", change: func(p Plan) { p.Networks["nextcloud_default"].Aliases[0] = "web" }},
		{name: "network links", change: func(p Plan) { p.Networks["nextcloud_default"].Links[0] = "other-db-1:database" }},
		{name: "static address", change: func(p Plan) {
			p.Networks["proxy"].IPAMConfig.IPv4Address = netip.MustParseAddr("172.20.0.11")
		}},
		{name: "environment, old image gone", noImage: true, change: func(p Plan) { p.Config.Env[0] = "PATH=/bin" }},
		{name: "command, old image gone", noImage: true, change: func(p Plan) { p.Config.Cmd[0] = "php-fpm" }},
		{name: "labels, old image gone", noImage: true, change: func(p Plan) { p.Config.Labels["traefik.enable"] = "false" }},
		{name: "health check, old image gone", noImage: true, change: func(p Plan) { p.Config.Healthcheck.Retries = 10 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, img := nextcloudApp(), nextcloudImage()
			if tc.noImage {
				img = nil
			}
			tc.change(PlanRecreate(old, img, newRef))
			want := nextcloudApp()
			for _, part := range []struct {
				name      string
				got, want any
			}{
				{"Config", old.Config, want.Config},
				{"HostConfig", old.HostConfig, want.HostConfig},
				{"NetworkSettings", old.NetworkSettings, want.NetworkSettings},
			} {
				if !reflect.DeepEqual(part.got, part.want) {
					t.Errorf("changing the plan changed old's %s:\ngot  %s\nwant %s", part.name, show(part.got), show(part.want))
				}
			}
		})
	}
}

// The anonymous volume Docker made for the image's VOLUME line holds the container's
// data: the new container mounts the same volume, not a new empty one. Volumes and
// binds the owner named are already in the host config and are not mounted twice.
func TestPlanRecreateKeepsAnonymousVolumes(t *testing.T) {
	old := container.InspectResponse{
		ID:         strings.Repeat("ab", 32),
		Name:       "/wiki",
		Config:     &container.Config{Image: "wiki:1", Volumes: map[string]struct{}{"/var/lib/wiki": {}}},
		HostConfig: &container.HostConfig{Binds: []string{"/srv/wiki/config:/etc/wiki:ro", "wiki-uploads:/uploads"}},
		Mounts: []container.MountPoint{
			{Type: mount.TypeBind, Source: "/srv/wiki/config", Destination: "/etc/wiki"},
			{Type: mount.TypeVolume, Name: "wiki-uploads", Destination: "/uploads", RW: true},
			{Type: mount.TypeVolume, Name: "3f1c9e0d7a", Destination: "/var/lib/wiki", RW: true},
		},
	}
	plan := PlanRecreate(old, &v1.DockerOCIImageConfig{}, "wiki:2")
	want := []mount.Mount{{Type: mount.TypeVolume, Source: "3f1c9e0d7a", Target: "/var/lib/wiki"}}
	if !reflect.DeepEqual(plan.HostConfig.Mounts, want) {
		t.Errorf("mounts = %+v, want %+v", plan.HostConfig.Mounts, want)
	}
	if len(old.HostConfig.Mounts) != 0 {
		t.Error("planning changed the old container's host config")
	}
}
