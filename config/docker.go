package config

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Docker is how Steward reaches the Docker Engines whose containers it watches
// and manages: one engine (Host, TLS, SSH, OnlyLabel), or several by name
// (Hosts), as a group with more than one machine has.
type Docker struct {
	// Host is the engine's address: unix:///path/to/socket,
	// tcp://host:port or ssh://user@host. Empty (the default) means
	// $DOCKER_HOST, else the local socket unix:///var/run/docker.sock, as
	// for the docker command.
	Host string `yaml:"host"`
	// TLS are the files for a tcp:// engine that requires TLS.
	TLS DockerTLS `yaml:"tls"`
	// SSH are the options of an ssh:// engine.
	SSH DockerSSH `yaml:"ssh"`
	// OnlyLabel limits Steward to the engine's containers with this label
	// (KEY or KEY=VALUE); the others are neither watched nor managed.
	OnlyLabel string `yaml:"only_label"`
	// Hosts names several engines; commands then take HOST/CONTAINER. It
	// replaces host, tls, ssh and only_label.
	Hosts map[string]DockerHost `yaml:"hosts"`
	// UpdateCheck is how often Steward asks the registries whether the images the
	// containers run have newer versions under their tags, and tells the admin room
	// about each new one once. 0 turns the check off (!updates still works).
	UpdateCheck Duration `yaml:"update_check" default:"24h" zero:"off" min:"1m"`
	// Settle is how long a container updated by !update, when its image has no
	// health check, must run without stopping or restarting to count as healthy;
	// otherwise the update is rolled back.
	Settle Duration `yaml:"settle" default:"10s" min:"1s" max:"10m"`
}

// DockerHost is one of several engines (docker.hosts).
type DockerHost struct {
	// Address is where the engine is reached, as docker.host.
	Address   string    `yaml:"address"`
	TLS       DockerTLS `yaml:"tls"`
	SSH       DockerSSH `yaml:"ssh"`
	OnlyLabel string    `yaml:"only_label"`
}

// DockerTLS names the files of a TLS connection to a tcp:// engine, as
// docker --tlsverify takes them: the CA that signed the engine's certificate,
// and Steward's own certificate and key.
type DockerTLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// On reports whether any TLS file is set: one alone turns TLS on, and validation
// then asks for all three on a tcp:// engine.
func (t DockerTLS) On() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// DockerSSH are the options of an ssh:// engine. Empty, ssh uses the
// configuration of the user Steward runs as.
type DockerSSH struct {
	// Identity is the private key to log in with.
	Identity string `yaml:"identity"`
	// KnownHosts is the known_hosts file that holds the host's key; with it,
	// an unknown or changed host key is refused.
	KnownHosts string `yaml:"known_hosts"`
}

// DockerEngine is one engine to manage, as Docker.Engines lists them.
type DockerEngine struct {
	// Name is the host's name in commands; empty for the one engine of
	// docker.host.
	Name string
	DockerHost
}

// Engines lists the engines to manage: those of docker.hosts in name order,
// or else the one engine of docker.host.
func (d Docker) Engines() []DockerEngine {
	if len(d.Hosts) == 0 {
		return []DockerEngine{{DockerHost: DockerHost{Address: d.Host, TLS: d.TLS, SSH: d.SSH, OnlyLabel: d.OnlyLabel}}}
	}
	engines := make([]DockerEngine, 0, len(d.Hosts))
	for _, name := range slices.Sorted(maps.Keys(d.Hosts)) {
		engines = append(engines, DockerEngine{Name: name, DockerHost: d.Hosts[name]})
	}
	return engines
}

// dockerHostForms lists the addresses checkDockerHost accepts, for its
// messages.
const dockerHostForms = "unix:///path/to/docker.sock, tcp://host:port or ssh://user@host"

// The ports a tcp:// engine may listen on.
const minPort, maxPort = 1, 65535

// hostNamePattern is what a name in docker.hosts may be: it is typed in
// commands before a slash (HOST/CONTAINER), so it has none.
const hostNamePattern = `[a-z0-9][a-z0-9_.-]{0,31}`

// HostName matches a name docker.hosts accepts, so chat commands that take
// HOST/CONTAINER refuse the same names the config file does.
var HostName = regexp.MustCompile(`^` + hostNamePattern + `$`)

// dockerLabel is what docker.only_label may be: KEY or KEY=VALUE.
var dockerLabel = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*(=\S*)?$`)

// checkDocker validates the engines of the docker section and resolves the
// paths of their files, which loadFiles opens after the checks.
func (v *validator) checkDocker(d *Docker) {
	if len(d.Hosts) == 0 {
		if v.set["docker.hosts"] {
			v.invalid("docker.hosts", "must name at least one engine; leave it out to use docker.host")
		}
		v.checkDockerEngine("docker", "docker.host", d.Host, &d.TLS, &d.SSH, d.OnlyLabel)
		return
	}
	for _, k := range []string{"docker.host", "docker.tls", "docker.ssh", "docker.only_label"} {
		if v.set[k] {
			v.invalid(k, "can't be set with docker.hosts; set it for each host under docker.hosts.NAME")
		}
	}
	byAddress := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(d.Hosts)) {
		key := "docker.hosts." + name
		// One engine under two names is two views of it, which must not overlap:
		// two updates of one container at once would trip over each other.
		if h := d.Hosts[name]; h.Address != "" {
			if other, dup := byAddress[h.Address]; dup {
				if o := d.Hosts[other]; h.OnlyLabel == "" || o.OnlyLabel == "" || h.OnlyLabel == o.OnlyLabel {
					v.invalid(key+".address", fmt.Sprintf("is docker.hosts.%s's engine too; two hosts on one engine need different only_label values, so no container is in both", other))
				}
			}
			byAddress[h.Address] = name
		}
		if !HostName.MatchString(name) {
			v.invalid(key, "a host name is lower-case letters, digits, '.', '_' and '-', at most 32, starting with a letter or digit")
		}
		h := d.Hosts[name]
		if h.Address == "" {
			v.invalid(key, "needs an address: where the engine is reached, like "+dockerHostForms)
		} else {
			v.checkDockerEngine(key, key+".address", h.Address, &h.TLS, &h.SSH, h.OnlyLabel)
		}
		d.Hosts[name] = h
	}
}

// checkDockerEngine validates one engine's address, TLS and ssh files and
// label; key is its section, addrKey the key of its address.
func (v *validator) checkDockerEngine(key, addrKey, addr string, tls *DockerTLS, ssh *DockerSSH, label string) {
	v.checkDockerHost(addrKey, addr)
	scheme, _, _ := strings.Cut(addr, "://")
	if tls.On() {
		if scheme != "tcp" {
			v.invalid(key+".tls", "is for a tcp:// engine only")
		}
		for _, f := range []struct {
			name string
			path *string
		}{{"ca", &tls.CA}, {"cert", &tls.Cert}, {"key", &tls.Key}} {
			v.readable(key+".tls."+f.name, f.path, "all three of ca, cert and key are needed for TLS")
		}
	}
	if ssh.Identity != "" || ssh.KnownHosts != "" {
		if scheme != "ssh" {
			v.invalid(key+".ssh", "is for an ssh:// engine only")
		}
		if ssh.Identity != "" {
			v.readable(key+".ssh.identity", &ssh.Identity, "")
		}
		if ssh.KnownHosts != "" {
			v.readable(key+".ssh.known_hosts", &ssh.KnownHosts, "")
		}
	}
	if label != "" && !dockerLabel.MatchString(label) {
		v.invalid(key+".only_label", fmt.Sprintf("must be a label, KEY or KEY=VALUE, like com.docker.compose.project=cloud; got %q", label))
	}
}

// checkDockerHost requires an engine's address, when set, to be an address the
// Docker client can dial from Linux: it reads unix:// as a path, so
// unix://var/run/docker.sock (two slashes) is a relative one. An address
// holding a password is refused without repeating it.
func (v *validator) checkDockerHost(key, host string) {
	if host == "" {
		if v.set[key] {
			v.invalid(key, "must not be empty; leave it out to use $DOCKER_HOST, else unix:///var/run/docker.sock")
		}
		return
	}
	if hasPassword(host) {
		v.invalid(key, "must not hold a password; ssh:// logs in with the ssh key of the user Steward runs as")
		return
	}
	scheme, rest, ok := strings.Cut(host, "://")
	switch scheme {
	case "unix":
		if !filepath.IsAbs(rest) {
			v.invalid(key, fmt.Sprintf("unix:// needs an absolute path to the socket, like unix:///var/run/docker.sock "+
				"(three slashes); got %q", host))
		}
	case "tcp":
		u, err := url.Parse(host)
		if err != nil || u.Hostname() == "" || u.Port() == "" {
			v.invalid(key, fmt.Sprintf("tcp:// needs a host and port, like tcp://192.0.2.10:2376; got %q", host))
		} else if p, err := strconv.Atoi(u.Port()); err != nil || p < minPort || p > maxPort {
			v.invalid(key, fmt.Sprintf("the port must be from %d to %d, got %s", minPort, maxPort, u.Port()))
		}
	case "ssh":
		if u, err := url.Parse(host); err != nil || u.Hostname() == "" {
			v.invalid(key, fmt.Sprintf("ssh:// needs a host, like ssh://steward@docker.example.org; got %q", host))
		} else if u.RawQuery != "" || u.Fragment != "" {
			v.invalid(key, fmt.Sprintf("ssh:// takes no ?query or #fragment; got %q", host))
		}
	case "npipe":
		v.invalid(key, "npipe:// is how Docker is reached on Windows, and Steward runs on Linux; use "+dockerHostForms)
	case "http", "https":
		v.invalid(key, fmt.Sprintf("not a Docker Engine address: %q; the engine's API is reached at tcp://host:port, not %s://", host, scheme))
	default:
		if !ok && filepath.IsAbs(host) {
			v.invalid(key, fmt.Sprintf("not a Docker Engine address: %q (did you mean %q?)", host, "unix://"+host))
		} else {
			v.invalid(key, fmt.Sprintf("not a Docker Engine address: %q; use %s", host, dockerHostForms))
		}
	}
}

// hasPassword reports whether addr holds a user:password@ part, also when
// it is not a valid URL, so no message repeats it.
func hasPassword(addr string) bool {
	_, rest, _ := strings.Cut(addr, "://")
	authority, _, _ := strings.Cut(rest, "/")
	i := strings.LastIndex(authority, "@")
	return i >= 0 && strings.Contains(authority[:i], ":")
}
