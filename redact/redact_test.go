package redact

import (
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"connecting to postgres://app:hunter2@db:5432/app", "connecting to postgres://app:•••@db:5432/app"},
		{"GET https://example.org/ 200", "GET https://example.org/ 200"},
		{"Authorization: Bearer abcdef0123456789.xyz", "Authorization: •••"},
		{"sent Bearer abcdef0123456789.xyz upstream", "sent Bearer ••• upstream"},
		{"password=hunter2 user=bob", "password=••• user=bob"},
		{`DB_PASSWORD="s3cr3t!" next`, `DB_PASSWORD="•••" next`},
		{"api_key: 12345abcde", "api_key: •••"},
		{"SECRET_KEY_BASE=deadbeef", "SECRET_KEY_BASE=•••"},
		{`{"access_token":"abc.def-123","user":"x"}`, `{"access_token":"•••","user":"x"}`},
		{"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlMTIz ok", "token ••• ok"},
		{"found ghp_abcdefghijklmnopqrstuvwxyz0123 in env", "found ••• in env"},
		{"AWS key AKIAABCDEFGHIJKLMNOP used", "AWS key ••• used"},
		{"login with syt_c3Rld2FyZA_abcdefghij_123 done", "login with ••• done"},
		{"nothing to hide here: 42 requests in 3s", "nothing to hide here: 42 requests in 3s"},
		{"redis://:s3cretPass@redis:6379/0", "redis://:•••@redis:6379/0"},
		{"postgres://app:pa/ss@db/app", "postgres://app:•••@db/app"},
		{"postgres://app:p@ss-w0rd@db/app", "postgres://app:•••@db/app"},
		{"pass=hunter2 ok", "pass=••• ok"},
		{"run --password hunter2 now", "run --password ••• now"},
		{"the passage of time", "the passage of time"},
	}
	for _, tt := range tests {
		if got := Secrets(tt.in); got != tt.want {
			t.Errorf("Secrets(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if strings.Contains(tt.in, "hunter2") && strings.Contains(Secrets(tt.in), "hunter2") {
			t.Errorf("the password is still in %q", Secrets(tt.in))
		}
	}
}
