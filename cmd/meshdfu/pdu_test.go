package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/meshdfu/meshdfu/internal/vectors"
)

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// Every published sample message decodes through the command line, with the
// fields and the decrypted access message.
func TestPDUDecode_Vectors(t *testing.T) {
	for _, v := range vectors.MustLoad().NetworkPDUs {
		args := []string{"pdu", "decode", "--netkey", v.NetKey, "--iv-index", v.IVIndex}
		if v.AppKey != "" {
			args = append(args, "--appkey", v.AppKey)
		}
		if v.DevKey != "" {
			args = append(args, "--devkey", v.DevKey)
		}
		if v.LabelUUID != "" {
			args = append(args, "--label-uuid", v.LabelUUID)
		}
		if f := v.Friendship; f != nil {
			args = append(args, "--friendship", strings.Join([]string{f.LPNAddress, f.FriendAddress, f.LPNCounter, f.FriendCounter}, ":"))
		}
		for _, p := range v.PDUs {
			args = append(args, p.NetworkPDU)
		}
		out, _, err := runCmd(t, args...)
		if err != nil {
			t.Errorf("%s: %v", v.ID, err)
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		pduLines := 0
		var msg map[string]any
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s: line %q is not JSON: %v", v.ID, l, err)
			}
			if _, ok := m["seq"]; ok {
				p := v.PDUs[pduLines]
				if m["seq"] != p.SEQ || m["src"] != v.SRC || m["dst"] != v.DST || m["lower_transport_pdu"] != p.LowerTransportPDU ||
					m["nid"] != v.NID || m["ttl"] != float64(p.TTL) || m["ctl"] != float64(p.CTL) || m["ivi"] != float64(v.IVI) {
					t.Errorf("%s pdu %d: %s", v.ID, pduLines, l)
				}
				if p.Segment != nil {
					seg, _ := m["seg"].(map[string]any)
					if seg == nil || seg["seq_zero"] != p.Segment.SeqZero || seg["seg_o"] != float64(p.Segment.SegO) || seg["seg_n"] != float64(p.Segment.SegN) || seg["szmic"] != float64(p.Segment.SZMIC) {
						t.Errorf("%s pdu %d seg: %s", v.ID, pduLines, l)
					}
				}
				pduLines++
			} else {
				msg = m
			}
		}
		if pduLines != len(v.PDUs) {
			t.Errorf("%s: %d PDU lines, want %d", v.ID, pduLines, len(v.PDUs))
		}
		if a := v.Access; a != nil {
			want := map[bool]string{true: "dev", false: "app"}[a.KeyType == "device"]
			if msg == nil || msg["access_message"] != a.AccessMessage || msg["opcode"] != a.Opcode || msg["key"] != want ||
				msg["parameters"] != strings.TrimPrefix(a.AccessMessage, a.Opcode) {
				t.Errorf("%s: access line %v", v.ID, msg)
			}
		}
		if c := v.Control; c != nil {
			ctl, _ := msg["control"].(map[string]any)
			if ctl == nil || ctl["opcode"] != c.Opcode {
				t.Errorf("%s: control line %v", v.ID, msg)
			}
		}
	}
}

func TestPDUDecode_Errors(t *testing.T) {
	v := vectors.MustLoad().NetworkPDUs[0]
	good := v.PDUs[0].NetworkPDU
	badMIC := good[:len(good)-2] + "00"
	if badMIC == good {
		badMIC = good[:len(good)-2] + "11"
	}
	out, _, err := runCmd(t, "pdu", "decode", "--netkey", v.NetKey, "--iv-index", v.IVIndex, "nothex", "0102", badMIC, good)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("exit: %v, want code 1", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 3 errors + PDU + message:\n%s", len(lines), out)
	}
	for i := 0; i < 3; i++ {
		if !strings.HasPrefix(lines[i], `{"error":`) {
			t.Errorf("line %d: %s", i, lines[i])
		}
	}
	if _, _, err := runCmd(t, "pdu", "decode", "--netkey", "abcd", "--iv-index", "0", good); !errors.As(err, &ee) || ee.code != 2 {
		t.Errorf("bad key: %v, want exit 2", err)
	}
}
