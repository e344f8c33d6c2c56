package cdb

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts marshals, parses
// back, and marshals to the same bytes.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"nrf-mesh.json", "bluez-mesh-cfgclient.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"nodes":[{"uuid":"70cf7c9732a345b691494810d2e9cbf4","unicastAddress":"0001","elements":[{"index":0,"models":[{"modelId":"1000","publish":{"address":"c000","period":100}}]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			return
		}
		_ = d.Node(0x0001)
		_, _ = d.FreeUnicast(2)
		out, err := d.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		d2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		out2, err := d2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("unstable round trip: %v\n%s\n---\n%s", err, out, out2)
		}
	})
}
