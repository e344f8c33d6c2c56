package pcap

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/internal/vectors"
	"github.com/meshdfu/meshdfu/mesh"
)

// tshark returns the path of tshark, or skips the test; with
// MESHDFU_REQUIRE_TSHARK=1 a missing tshark fails the test instead.
func tshark(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("MESHDFU_REQUIRE_TSHARK") == "1" {
			t.Fatal("tshark not on PATH and MESHDFU_REQUIRE_TSHARK=1")
		}
		t.Skip("tshark not on PATH (install Wireshark's tshark to run; set MESHDFU_REQUIRE_TSHARK=1 to make this a failure)")
	}
	return path
}

// wantPDU is what tshark must show for one record.
type wantPDU struct {
	id        string
	src, seq  uint32
	decrypted string // expected btmesh.access.decrypted, "" when not checked
}

// TestTshark_DecodesSampleNetworkPDUs writes the published sample network
// PDUs (managed flooding credentials; one capture per IV Index) to pcaps,
// gives tshark the keys through -o uat: options, and checks it decodes every
// PDU's SRC and SEQ, and decrypts each unsegmented access message.
func TestTshark_DecodesSampleNetworkPDUs(t *testing.T) {
	bin := tshark(t)
	v := vectors.MustLoad()
	byIV := map[string][]vectors.NetworkPDU{}
	var ivs []string
	for _, m := range v.NetworkPDUs {
		if m.Credentials != "managed_flooding" {
			continue // Wireshark has no table for friendship credentials
		}
		if byIV[m.IVIndex] == nil {
			ivs = append(ivs, m.IVIndex)
		}
		byIV[m.IVIndex] = append(byIV[m.IVIndex], m)
	}
	for _, iv := range ivs {
		t.Run("iv="+iv, func(t *testing.T) {
			msgs := byIV[iv]
			path := filepath.Join(t.TempDir(), "vectors-"+iv+".pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w, err := NewWriter(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []wantPDU
			opts := map[string]bool{}
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for _, m := range msgs {
				switch {
				case m.AppKey != "":
					opts[fmt.Sprintf(`uat:btmesh_nw_keys:"0x%s","0x%s","0x%s"`, m.NetKey, m.AppKey, m.IVIndex)] = true
				default:
					opts[fmt.Sprintf(`uat:btmesh_nw_keys:"0x%s","0x%s","0x%s"`, m.NetKey, strings.Repeat("0", 32), m.IVIndex)] = true
				}
				if m.DevKey != "" {
					opts[fmt.Sprintf(`uat:btmesh_dev_keys:"0x%s","0x%s"`, m.DevKey, m.SRC)] = true
					opts[fmt.Sprintf(`uat:btmesh_dev_keys:"0x%s","0x%s"`, m.DevKey, m.DST)] = true
				}
				if m.LabelUUID != "" {
					opts[fmt.Sprintf(`uat:btmesh_label_uuids:"0x%s"`, m.LabelUUID)] = true
				}
				for i, p := range m.PDUs {
					at = at.Add(20 * time.Millisecond)
					err := w.WritePacket(Packet{Time: at, AdvA: AdvAddress(int(vectors.Uint(m.SRC))), Kind: mesh.ADMessage, Payload: vectors.Hex(p.NetworkPDU)})
					if err != nil {
						t.Fatal(err)
					}
					wp := wantPDU{id: fmt.Sprintf("%s[%d]", m.ID, i), src: vectors.Uint(m.SRC), seq: vectors.Uint(p.SEQ)}
					if m.Access != nil && len(m.PDUs) == 1 && m.Access.KeyType == "application" {
						wp.decrypted = m.Access.AccessMessage
					}
					want = append(want, wp)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			args := []string{"-r", path, "-T", "fields", "-E", "separator=/t",
				"-e", "frame.number", "-e", "btmesh.src", "-e", "btmesh.seq", "-e", "btmesh.access.decrypted", "-e", "btle.crc.incorrect"}
			for _, o := range slices.Sorted(maps.Keys(opts)) {
				args = append(args, "-o", o)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("tshark: %v\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if len(lines) != len(want) {
				t.Fatalf("tshark printed %d records, wrote %d\n%s\n%s", len(lines), len(want), out, stderr.String())
			}
			for i, line := range lines {
				f := strings.Split(line, "\t")
				for len(f) < 5 {
					f = append(f, "")
				}
				w := want[i]
				src, errS := strconv.ParseUint(f[1], 10, 16)
				seq, errQ := strconv.ParseUint(f[2], 10, 32)
				if errS != nil || errQ != nil || uint32(src) != w.src || uint32(seq) != w.seq {
					t.Errorf("%s: tshark src=%q seq=%q, want src=%#04x seq=%#06x", w.id, f[1], f[2], w.src, w.seq)
				}
				if f[4] != "" {
					t.Errorf("%s: tshark reports an incorrect CRC", w.id)
				}
				if w.decrypted != "" && f[3] != w.decrypted {
					t.Errorf("%s: decrypted access payload %q, want %q", w.id, f[3], w.decrypted)
				}
			}
		})
	}
}
