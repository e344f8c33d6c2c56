package beacon

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/crypto"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestSecureNetwork_Vectors(t *testing.T) {
	vs := vectors.MustLoad().SecureNetworkBeacons
	if len(vs) != 3 {
		t.Fatalf("have %d secure network beacon vectors, want 3", len(vs))
	}
	for _, v := range vs {
		t.Run(v.ID, func(t *testing.T) {
			netKey := vectors.Key(v.NetKey)
			if got := crypto.BeaconKey(netKey); got != vectors.Key(v.BeaconKey) {
				t.Fatalf("BeaconKey %x, want %s", got, v.BeaconKey)
			}
			ks := NewKeySet(0, netKey, false)
			if hex.EncodeToString(ks.NetworkID[:]) != v.NetworkID {
				t.Fatalf("Network ID %x, want %s", ks.NetworkID, v.NetworkID)
			}
			flags := Flags(vectors.Uint(v.Flags))
			if flags.KeyRefresh() != (v.KeyRefresh == 1) || flags.IVUpdate() != (v.IVUpdate == 1) {
				t.Fatalf("flags %v disagree with key_refresh %d iv_update %d", flags, v.KeyRefresh, v.IVUpdate)
			}
			if MakeFlags(v.KeyRefresh == 1, v.IVUpdate == 1) != flags {
				t.Fatalf("MakeFlags mismatch")
			}
			// Encode from the fields.
			b := ks.SecureNetworkBeacon(flags, vectors.Uint(v.IVIndex))
			if hex.EncodeToString(b.Auth[:]) != v.AuthenticationValue {
				t.Errorf("auth %x, want %s", b.Auth, v.AuthenticationValue)
			}
			if !strings.HasPrefix(v.CMAC, v.AuthenticationValue) {
				t.Errorf("vector cmac %s does not start with the auth value", v.CMAC)
			}
			got, err := b.Marshal()
			if err != nil || hex.EncodeToString(got) != v.Beacon {
				t.Fatalf("Marshal = %x, %v; want %s", got, err, v.Beacon)
			}
			// auth_input is Flags‖Network ID‖IV Index: the beacon minus type and auth.
			if hex.EncodeToString(got[1:14]) != v.AuthInput {
				t.Errorf("auth input %x, want %s", got[1:14], v.AuthInput)
			}
			// Decode.
			var d SecureNetwork
			if err := d.Unmarshal(vectors.Hex(v.Beacon)); err != nil {
				t.Fatal(err)
			}
			if d != b {
				t.Fatalf("decoded %+v, want %+v", d, b)
			}
			if err := d.Verify(ks.BeaconKey); err != nil {
				t.Fatal(err)
			}
			d.Auth[7] ^= 1
			if err := d.Verify(ks.BeaconKey); !errors.Is(err, ErrAuth) {
				t.Fatalf("tampered auth: %v, want ErrAuth", err)
			}
		})
	}
}

func TestPrivate_Vectors(t *testing.T) {
	vs := vectors.MustLoad().PrivateBeacons
	if len(vs) != 2 {
		t.Fatalf("have %d private beacon vectors, want 2", len(vs))
	}
	for _, v := range vs {
		t.Run(v.ID, func(t *testing.T) {
			netKey := vectors.Key(v.NetKey)
			pbk := crypto.PrivateBeaconKey(netKey)
			if pbk != vectors.Key(v.PrivateBeaconKey) {
				t.Fatalf("PrivateBeaconKey %x, want %s", pbk, v.PrivateBeaconKey)
			}
			var random [13]byte
			copy(random[:], vectors.Hex(v.Random))
			flags := Flags(vectors.Uint(v.Flags))
			if flags.KeyRefresh() != (v.KeyRefresh == 1) || flags.IVUpdate() != (v.IVUpdate == 1) {
				t.Fatalf("flags %v disagree with vector", flags)
			}
			iv := vectors.Uint(v.IVIndex)
			b := NewPrivate(pbk, random, flags, iv)
			if hex.EncodeToString(b.ObfuscatedData[:]) != v.ObfuscatedPrivateBeaconData {
				t.Errorf("obfuscated %x, want %s", b.ObfuscatedData, v.ObfuscatedPrivateBeaconData)
			}
			if hex.EncodeToString(b.AuthTag[:]) != v.AuthenticationTag {
				t.Errorf("tag %x, want %s", b.AuthTag, v.AuthenticationTag)
			}
			got, _ := b.Marshal()
			if hex.EncodeToString(got[1:]) != v.Payload {
				t.Errorf("payload %x, want %s", got[1:], v.Payload)
			}
			// The AD structure: Length, 0x2B, then the beacon.
			ad := append([]byte{byte(len(got) + 1), byte(mesh.ADBeacon)}, got...)
			if hex.EncodeToString(ad) != v.ADStructure {
				t.Errorf("AD %x, want %s", ad, v.ADStructure)
			}
			// Decode and decrypt the published AD's beacon.
			pub := vectors.Hex(v.ADStructure)[2:]
			var d Private
			if err := d.Unmarshal(pub); err != nil {
				t.Fatal(err)
			}
			if d != b {
				t.Fatalf("decoded %+v, want %+v", d, b)
			}
			f, gotIV, err := d.Decrypt(pbk)
			if err != nil || f != flags || gotIV != iv {
				t.Fatalf("Decrypt = %v, %08x, %v; want %v, %08x", f, gotIV, err, flags, iv)
			}
			var data [5]byte
			data[0] = byte(f)
			data[1], data[2], data[3], data[4] = byte(iv>>24), byte(iv>>16), byte(iv>>8), byte(iv)
			if hex.EncodeToString(data[:]) != v.PrivateBeaconData {
				t.Errorf("private beacon data %x, want %s", data, v.PrivateBeaconData)
			}
			// Wrong key and a tampered tag fail.
			if _, _, err := d.Decrypt(crypto.BeaconKey(netKey)); !errors.Is(err, ErrAuth) {
				t.Errorf("wrong key: %v, want ErrAuth", err)
			}
			d.ObfuscatedData[0] ^= 0x80
			if _, _, err := d.Decrypt(pbk); !errors.Is(err, ErrAuth) {
				t.Errorf("tampered data: %v, want ErrAuth", err)
			}
		})
	}
}

func TestUnprovisioned_Vectors(t *testing.T) {
	vs := vectors.MustLoad().UnprovisionedDeviceBeacons
	if len(vs) != 2 {
		t.Fatalf("have %d unprovisioned beacon vectors, want 2", len(vs))
	}
	for _, v := range vs {
		t.Run(v.ID, func(t *testing.T) {
			var b Unprovisioned
			copy(b.UUID[:], vectors.Hex(v.DeviceUUID))
			b.OOBInfo = uint16(vectors.Uint(v.OOBInformation))
			if v.URI != "" {
				// uri_data is the URI scheme code point 0x17 ("https:")
				// followed by the rest of the URI.
				data := vectors.Hex(v.URIData)
				if data[0] != 0x17 || string(data[1:]) != strings.TrimPrefix(v.URI, "https:") {
					t.Fatalf("uri_data %x does not encode %q", data, v.URI)
				}
				s := crypto.S1(data)
				if hex.EncodeToString(s[:]) != v.URIHashS1 {
					t.Fatalf("s1(uri data) %x, want %s", s, v.URIHashS1)
				}
				b.HasURIHash, b.URIHash = true, URIHash(data)
			}
			got, _ := b.Marshal()
			if hex.EncodeToString(got) != v.Beacon {
				t.Fatalf("Marshal = %x, want %s", got, v.Beacon)
			}
			var d Unprovisioned
			if err := d.Unmarshal(vectors.Hex(v.Beacon)); err != nil {
				t.Fatal(err)
			}
			if d != b {
				t.Fatalf("decoded %+v, want %+v", d, b)
			}
		})
	}
}

func TestServiceData_Vectors(t *testing.T) {
	vs := vectors.MustLoad().ProxyServiceData
	if len(vs) != 4 {
		t.Fatalf("have %d proxy service data vectors, want 4", len(vs))
	}
	for _, v := range vs {
		t.Run(v.ID, func(t *testing.T) {
			netKey := vectors.Key(v.NetKey)
			netID := crypto.K3(netKey)
			idKey := crypto.IdentityKey(netKey)
			if v.IdentityKey != "" && idKey != vectors.Key(v.IdentityKey) {
				t.Fatalf("IdentityKey %x, want %s", idKey, v.IdentityKey)
			}
			if v.NetworkID != "" && hex.EncodeToString(netID[:]) != v.NetworkID {
				t.Fatalf("Network ID %x, want %s", netID, v.NetworkID)
			}
			var random [8]byte
			if v.Random != "" {
				copy(random[:], vectors.Hex(v.Random))
			}
			var addr mesh.Address
			if v.Address != "" {
				addr = mesh.Address(vectors.Uint(v.Address))
			}
			var sd ServiceData
			switch IdentificationType(vectors.Uint(v.Type)) {
			case IDNetworkID:
				sd = NetworkIDData(netID)
			case IDNodeIdentity:
				sd = NodeIdentityData(idKey, random, addr)
			case IDPrivateNetworkIdentity:
				sd = PrivateNetworkIdentityData(idKey, netID, random)
			case IDPrivateNodeIdentity:
				sd = PrivateNodeIdentityData(idKey, random, addr)
			default:
				t.Fatalf("unknown type %s", v.Type)
			}
			if v.EPlaintext != "" {
				// Check the plaintext layout the hash is computed over.
				var in [16]byte
				copy(in[:], vectors.Hex(v.EPlaintext))
				out := crypto.AES(idKey, in)
				if v.EOutput != "" && hex.EncodeToString(out[:]) != v.EOutput {
					t.Errorf("e() %x, want %s", out, v.EOutput)
				}
				if !bytes.Equal(out[8:], sd.Hash[:]) {
					t.Errorf("hash %x is not the tail of e(IdentityKey, e_plaintext) %x", sd.Hash, out)
				}
			}
			if v.Hash != "" && hex.EncodeToString(sd.Hash[:]) != v.Hash {
				t.Errorf("hash %x, want %s", sd.Hash, v.Hash)
			}
			ad, err := sd.AppendAD(nil)
			if err != nil || hex.EncodeToString(ad) != v.ADStructure {
				t.Fatalf("AppendAD = %x, %v; want %s", ad, err, v.ADStructure)
			}
			var d ServiceData
			if err := d.UnmarshalAD(vectors.Hex(v.ADStructure)); err != nil {
				t.Fatal(err)
			}
			if d != sd {
				t.Fatalf("decoded %+v, want %+v", d, sd)
			}
			switch d.Type {
			case IDNetworkID, IDPrivateNetworkIdentity:
				if !d.MatchNetwork(idKey, netID) {
					t.Error("MatchNetwork = false")
				}
				other := netID
				other[0] ^= 1
				if d.MatchNetwork(idKey, other) {
					t.Error("MatchNetwork(other network) = true")
				}
				if d.MatchNode(idKey, addr) {
					t.Error("MatchNode on network data = true")
				}
			default:
				if !d.MatchNode(idKey, addr) {
					t.Error("MatchNode = false")
				}
				if d.MatchNode(idKey, addr+1) {
					t.Error("MatchNode(other address) = true")
				}
				if d.MatchNetwork(idKey, netID) {
					t.Error("MatchNetwork on node data = true")
				}
			}
		})
	}
}

// TestDecoders_BadLengths checks every decoder rejects every length but the
// valid ones, and that no strict prefix or extension of a valid beacon
// parses.
func TestDecoders_BadLengths(t *testing.T) {
	f := vectors.MustLoad()
	cases := []struct {
		name  string
		valid []byte
		ok    map[int]bool
		dec   func([]byte) error
	}{
		{"secure", vectors.Hex(f.SecureNetworkBeacons[0].Beacon), map[int]bool{22: true},
			func(p []byte) error { var b SecureNetwork; return b.Unmarshal(p) }},
		{"private", vectors.Hex(f.PrivateBeacons[0].ADStructure)[2:], map[int]bool{27: true},
			func(p []byte) error { var b Private; return b.Unmarshal(p) }},
		{"unprovisioned", vectors.Hex(f.UnprovisionedDeviceBeacons[1].Beacon), map[int]bool{19: true, 23: true},
			func(p []byte) error { var b Unprovisioned; return b.Unmarshal(p) }},
		{"service-network-id", vectors.Hex(f.ProxyServiceData[0].ADStructure)[4:], map[int]bool{9: true},
			func(p []byte) error { var s ServiceData; return s.Unmarshal(p) }},
		{"service-identity", vectors.Hex(f.ProxyServiceData[1].ADStructure)[4:], map[int]bool{17: true},
			func(p []byte) error { var s ServiceData; return s.Unmarshal(p) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			long := append(bytes.Clone(c.valid), make([]byte, 8)...)
			for n := 0; n <= len(long); n++ {
				err := c.dec(long[:n])
				switch {
				case c.ok[n] && err != nil:
					t.Errorf("length %d: %v", n, err)
				case !c.ok[n] && !errors.Is(err, ErrLength):
					t.Errorf("length %d: err %v, want ErrLength", n, err)
				}
			}
		})
	}
}

func TestDecoders_Rejects(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		dec  func([]byte) error
		want error
	}{
		{"secure wrong type", "02 00 3ecaff672f673370 12345678 8ea261582f364f6f",
			func(p []byte) error { var b SecureNetwork; return b.Unmarshal(p) }, ErrType},
		{"secure RFU flag", "01 04 3ecaff672f673370 12345678 8ea261582f364f6f",
			func(p []byte) error { var b SecureNetwork; return b.Unmarshal(p) }, ErrRFU},
		{"private wrong type", "01 435f18f85cf78a3121f58478a5 61e488e7cb f3174f022a514741",
			func(p []byte) error { var b Private; return b.Unmarshal(p) }, ErrType},
		{"unprovisioned wrong type", "01 70cf7c9732a345b691494810d2e9cbf4 a040",
			func(p []byte) error { var b Unprovisioned; return b.Unmarshal(p) }, ErrType},
		{"service RFU type", "04 3ecaff672f673370",
			func(p []byte) error { var s ServiceData; return s.Unmarshal(p) }, ErrType},
		{"service empty", "",
			func(p []byte) error { var s ServiceData; return s.Unmarshal(p) }, ErrLength},
		{"AD wrong UUID", "0c 16 2718 00 3ecaff672f673370",
			func(p []byte) error { var s ServiceData; return s.UnmarshalAD(p) }, ErrType},
		{"AD wrong AD type", "0c 17 2818 00 3ecaff672f673370",
			func(p []byte) error { var s ServiceData; return s.UnmarshalAD(p) }, ErrType},
		{"AD length octet", "0d 16 2818 00 3ecaff672f673370",
			func(p []byte) error { var s ServiceData; return s.UnmarshalAD(p) }, ErrLength},
		{"AD short", "03 16 2818",
			func(p []byte) error { var s ServiceData; return s.UnmarshalAD(p) }, ErrLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.dec(mustHex(t, c.hex)); !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

func TestServiceData_AppendRFU(t *testing.T) {
	sd := ServiceData{Type: 7}
	if _, err := sd.AppendAD(nil); !errors.Is(err, ErrType) {
		t.Fatalf("err %v, want ErrType", err)
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{TypeSecureNetwork.String(), "secure-network"},
		{Type(9).String(), "Type(0x09)"},
		{Flags(3).String(), "kr|ivu"},
		{Flags(0).String(), "none"},
		{Flags(0x82).String(), "ivu|rfu(0x80)"},
		{IDPrivateNodeIdentity.String(), "private-node-identity"},
		{IdentificationType(9).String(), "IdentificationType(0x09)"},
		{IVRecovered.String(), "recovered"},
		{IVOutcome(99).String(), "IVOutcome(99)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestSecureNetwork_ZeroAlloc(t *testing.T) {
	b := SecureNetwork{Flags: FlagIVUpdate, IVIndex: 7}
	buf := make([]byte, 0, SecureNetworkLen)
	if n := testing.AllocsPerRun(100, func() { _, _ = b.AppendBinary(buf[:0]) }); n != 0 {
		t.Fatalf("AppendBinary allocates %v times", n)
	}
}
