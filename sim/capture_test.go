package sim_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/sim"
	"github.com/meshdfu/meshdfu/sim/pcap"
	"github.com/meshdfu/meshdfu/sim/topology"
)

func TestPcapCapture_EveryTransmission(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	e := sim.New(4)
	tp := topology.Line(4, sim.Independent(0.3))
	med, _ := network(e, sim.MediumConfig{Capture: sim.PcapCapture(w, false, &werr)}, tp, nil)
	med.Send(0, mesh.ADMessage, payload(1), mesh.DefaultNetworkTransmit)
	e.RunUntilIdle(time.Minute)
	if werr != nil {
		t.Fatal(werr)
	}
	tot := med.Totals()
	if uint64(w.Count()) != tot.Transmissions {
		t.Fatalf("%d records for %d transmissions", w.Count(), tot.Transmissions)
	}
	b := buf.Bytes()[24:]
	unheard := 0
	var last uint64
	for len(b) > 0 {
		incl := int(binary.LittleEndian.Uint32(b[8:]))
		rec := b[16 : 16+incl]
		if us := uint64(binary.LittleEndian.Uint32(b))*1e6 + uint64(binary.LittleEndian.Uint32(b[4:])); us < last {
			t.Fatal("timestamps go backwards")
		} else {
			last = us
		}
		if int8(rec[1]) == pcap.UnheardSignal {
			unheard++
		}
		ll, err := pcap.ParseLL(rec[10:])
		if err != nil {
			t.Fatal(err)
		}
		if len(ll.AD) != 1 || ll.AD[0].Type != mesh.ADMessage || binary.BigEndian.Uint64(ll.AD[0].Data) != 1 {
			t.Fatalf("record %+v", ll)
		}
		b = b[16+incl:]
	}
	if uint64(unheard) != tot.Unheard {
		t.Fatalf("%d records marked unheard, medium counted %d", unheard, tot.Unheard)
	}
}
