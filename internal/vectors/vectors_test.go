package vectors

import (
	"bytes"
	"os"
	"testing"
)

func TestEmbeddedMatchesShared(t *testing.T) {
	shared, err := os.ReadFile("../../../shared/vectors/crypto.json")
	if err != nil {
		t.Skipf("shared/vectors not beside the repository (%v); the embedded copy is used", err)
	}
	if !bytes.Equal(shared, Raw()) {
		t.Fatal("internal/vectors/crypto.json differs from shared/vectors/crypto.json: copy it again")
	}
}

func TestCounts(t *testing.T) {
	f := MustLoad()
	if len(f.S1) != 2 || len(f.K1) != 5 || len(f.K2) != 5 || len(f.K3) != 2 || len(f.K4) != 2 ||
		len(f.NetworkPDUs) != 16 || len(f.VirtualAddresses) != 2 || len(f.SecureNetworkBeacons) != 3 ||
		len(f.PrivateBeacons) != 2 || len(f.UnprovisionedDeviceBeacons) != 2 || len(f.ProxyServiceData) != 4 {
		t.Fatalf("unexpected vector counts: %+v", f)
	}
}
