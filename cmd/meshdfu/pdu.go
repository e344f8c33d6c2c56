package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/dissect"
)

func newPDUCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pdu",
		Short: "Work with raw mesh PDUs",
	}
	cmd.AddCommand(newPDUDecodeCmd())
	return cmd
}

func newPDUDecodeCmd() *cobra.Command {
	var (
		netKeys, appKeys, devKeys, labels, friendships []string
		ivIndex                                        string
	)
	cmd := &cobra.Command{
		Use:   "decode [flags] PDU_HEX...",
		Short: "Decode and decrypt network PDUs given the keys; prints JSON lines",
		Long: `decode opens each network PDU (the octets after the AD type 0x2A) with the
NetKey, and prints one JSON object per line: ivi, nid, ctl, ttl, seq, src, dst,
lower_transport_pdu, and seg for a segment. When an access message is complete
(unsegmented, or all of its segments were given) and one of the AppKeys or
DevKeys opens it, one more line follows with access_message, opcode,
parameters, key ("app" or "dev"), src and dst. Transport control messages
print control {opcode, parameters}.

A PDU that is not hex, too short, or whose NetMIC does not verify prints
{"error": "..."} and the command exits 1 after decoding the others. Give "-"
to read PDUs from standard input, one per line.`,
		Example: `  # Mesh Protocol sample message #1 (a control message)
  meshdfu pdu decode --netkey 7dd7364cd842ad18c17c2b820c84c3d6 --iv-index 12345678 \
      68eca487516765b5e5bfdacbaf6cb7fb6bff871f035444ce83a670df

  # Two segments of an access message to a virtual address, with its AppKey and Label UUID
  meshdfu pdu decode --netkey 7dd7364cd842ad18c17c2b820c84c3d6 --iv-index 12345677 \
      --appkey 63964771734fbd76e3b40519d1d94a48 --label-uuid f4a002c7fb1e4ca0a469a021de0db875 \
      e8624e65bb8c1794e998b4081f47a35251fdd3896d99e4db489b918599 e8a7d0f0a2ea42dc2f4dd6fb4db33a6c088d023b47`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := parseDecodeKeys(netKeys, appKeys, devKeys, labels, friendships, ivIndex)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			var pdus []string
			for _, a := range args {
				if a == "-" {
					sc := bufio.NewScanner(cmd.InOrStdin())
					for sc.Scan() {
						if line := strings.TrimSpace(sc.Text()); line != "" {
							pdus = append(pdus, line)
						}
					}
					if err := sc.Err(); err != nil {
						return &exitError{code: 2, msg: "reading standard input: " + err.Error()}
					}
					continue
				}
				pdus = append(pdus, a)
			}
			if failed := decodePDUs(cmd.OutOrStdout(), cmd.ErrOrStderr(), dissect.New(keys), pdus); failed > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&netKeys, "netkey", nil, "NetKey, 32 hex digits (required; repeat to try several)")
	f.StringVar(&ivIndex, "iv-index", "", "current IV Index, hex (required); PDUs with the other IVI use IV Index − 1")
	f.StringArrayVar(&appKeys, "appkey", nil, "AppKey to try, 32 hex digits (repeatable)")
	f.StringArrayVar(&devKeys, "devkey", nil, "DevKey to try, 32 hex digits (repeatable)")
	f.StringArrayVar(&labels, "label-uuid", nil, "Label UUID of a virtual destination, 32 hex digits (repeatable)")
	f.StringArrayVar(&friendships, "friendship", nil, "friendship credentials LPN:FRIEND:LPNCOUNTER:FRIENDCOUNTER in hex (repeatable)")
	_ = cmd.MarkFlagRequired("netkey")
	_ = cmd.MarkFlagRequired("iv-index")
	return cmd
}

// decodePDUs prints one JSON line per PDU (and per completed message) and
// returns how many PDUs failed to decode.
func decodePDUs(out, errOut io.Writer, d *dissect.Dissector, pdus []string) int {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	failed := 0
	for _, s := range pdus {
		s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
		pdu, msg, err := d.DecodeHex(s)
		if pdu == nil {
			failed++
			_ = enc.Encode(map[string]string{"error": err.Error()})
			continue
		}
		_ = enc.Encode(pdu)
		switch {
		case msg != nil:
			_ = enc.Encode(msg)
		case errors.Is(err, dissect.ErrNoAppKey):
			fmt.Fprintf(errOut, "note: PDU %s completes an access message that none of the given keys opens\n", s)
		case err != nil:
			failed++
			_ = enc.Encode(map[string]string{"error": err.Error()})
		}
	}
	return failed
}

func parseKey(flag, s string) ([16]byte, error) {
	var k [16]byte
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return k, fmt.Errorf("--%s %q: want 32 hex digits (16 octets)", flag, s)
	}
	copy(k[:], b)
	return k, nil
}

func parseDecodeKeys(netKeys, appKeys, devKeys, labels, friendships []string, iv string) (dissect.Keys, error) {
	var keys dissect.Keys
	ivs := strings.TrimPrefix(strings.TrimPrefix(iv, "0x"), "0X")
	v, err := strconv.ParseUint(ivs, 16, 32)
	if err != nil {
		return keys, fmt.Errorf("--iv-index %q: want up to 8 hex digits", iv)
	}
	keys.IVIndex = uint32(v)
	for _, set := range []struct {
		flag string
		in   []string
		out  *[]([16]byte)
	}{{"netkey", netKeys, &keys.NetKeys}, {"appkey", appKeys, &keys.AppKeys}, {"devkey", devKeys, &keys.DevKeys}, {"label-uuid", labels, &keys.LabelUUIDs}} {
		for _, s := range set.in {
			k, err := parseKey(set.flag, s)
			if err != nil {
				return keys, err
			}
			*set.out = append(*set.out, k)
		}
	}
	for _, s := range friendships {
		parts := strings.Split(s, ":")
		var n [4]uint64
		if len(parts) != 4 {
			return keys, fmt.Errorf("--friendship %q: want LPN:FRIEND:LPNCOUNTER:FRIENDCOUNTER", s)
		}
		for i, p := range parts {
			if n[i], err = strconv.ParseUint(strings.TrimPrefix(p, "0x"), 16, 16); err != nil {
				return keys, fmt.Errorf("--friendship %q: part %d is not a 16-bit hex number", s, i+1)
			}
		}
		keys.Friendships = append(keys.Friendships, dissect.Friendship{
			LPN: mesh.Address(n[0]), Friend: mesh.Address(n[1]), LPNCounter: uint16(n[2]), FriendCounter: uint16(n[3]),
		})
	}
	return keys, nil
}
