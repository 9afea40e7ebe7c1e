package config

import "testing"

func TestLegacyRoleClaimKeyText(t *testing.T) {
	for in, want := range map[string]string{
		".roles.user_role":            `."roles"."user_role"`,
		`."a b"[0]`:                   `."a b"[0]`,
		".r[0][7:-7]":                 `."r"[0][7:-7]`,
		`.r[?(@ *== "x")][:3]`:        `."r"[?(@ *== "x")][:3]`,
		`$.realm[?(@   ^==   "pre")]`: `."realm"[?(@ ^== "pre")]`,
		".bad[":                       ".bad[",
	} {
		if got := LegacyRoleClaimKeyText(in); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}
