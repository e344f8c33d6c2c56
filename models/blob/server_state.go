package blob

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
)

// The persistent record of a Server, written at every phase change and
// block completion (never per chunk), version 1:
//
//	0   1  version (1)
//	1   1  Transfer Phase
//	2   1  Transfer Mode
//	3   1  Transfer TTL
//	4   2  Timeout Base
//	6   8  BLOB ID
//	14  4  BLOB Size
//	18  1  Block Size Log
//	19  2  Transfer MTU Size
//	21  2  client address
//	23  2  AppKey Index
//	25  2  NetKey Index
//	27  n  Blocks Not Received bit field
//
// An Inactive server erases the record.
const (
	stateVersion   = 1
	stateHeaderLen = 27
)

var errState = errors.New("blob: bad server state record")

func (s *Server) save() {
	if s.cfg.State == nil {
		return
	}
	var b []byte
	if s.phase != PhaseInactive {
		b = make([]byte, 0, stateHeaderLen+len(s.blocks.bits))
		b = append(b, stateVersion, byte(s.phase), byte(s.xfer.Mode), s.ttl)
		b = binary.LittleEndian.AppendUint16(b, s.timeoutBase)
		b = binary.LittleEndian.AppendUint64(b, s.id)
		b = binary.LittleEndian.AppendUint32(b, s.xfer.Size)
		b = append(b, s.xfer.BlockSizeLog)
		b = binary.LittleEndian.AppendUint16(b, s.xfer.MTU)
		b = binary.LittleEndian.AppendUint16(b, uint16(s.xfer.Client))
		b = binary.LittleEndian.AppendUint16(b, s.appKey)
		b = binary.LittleEndian.AppendUint16(b, s.netKey)
		b = s.blocks.AppendBitField(b)
	}
	s.stats.Saves++
	if err := s.cfg.State.SaveState(b); err != nil {
		s.log.Error("blob: server: save state", slog.Any("err", err))
	}
}

// restore loads the saved record: a running transfer comes back
// Suspended (its open block is received again), with its storage
// reopened for resume; if that fails the transfer is abandoned.
func (s *Server) restore() error {
	if s.cfg.State == nil {
		return nil
	}
	b, err := s.cfg.State.LoadState()
	if err != nil {
		return fmt.Errorf("blob: server: load state: %w", err)
	}
	if b == nil {
		return nil
	}
	if err := s.decodeState(b); err != nil {
		s.log.Warn("blob: server: discarding saved state", slog.Any("err", err))
		s.resetState()
		s.save()
		return nil
	}
	switch s.phase {
	case PhaseWaitingForStart:
		s.armRxTimer()
	case PhaseWaitingForBlock, PhaseWaitingForChunk, PhaseSuspended:
		w, err := s.cfg.Storage.Open(s.id, s.xfer.Size, true)
		if err != nil {
			s.log.Warn("blob: server: abandoning recovered transfer", slog.Any("err", err))
			s.resetState()
			s.save()
			return nil
		}
		s.writer = w
		s.phase = PhaseSuspended
		s.save()
	}
	s.log.Info("blob: server: recovered transfer", slog.String("phase", s.phase.String()))
	return nil
}

func (s *Server) resetState() {
	s.phase = PhaseInactive
	s.xfer = ServerTransfer{}
	s.ttl = access.DefaultTTL
	s.blocks.Reset(0)
}

func (s *Server) decodeState(b []byte) error {
	if len(b) < stateHeaderLen || b[0] != stateVersion {
		return fmt.Errorf("%w: %d octets, version %d", errState, len(b), b[0])
	}
	phase, mode := Phase(b[1]), TransferMode(b[2])
	if phase == PhaseInactive || phase > maxPhase || mode > ModePull {
		return fmt.Errorf("%w: phase %d, mode %d", errState, phase, mode)
	}
	s.phase, s.ttl = phase, b[3]
	s.timeoutBase = binary.LittleEndian.Uint16(b[4:])
	s.id = binary.LittleEndian.Uint64(b[6:])
	s.xfer = ServerTransfer{
		ID:           s.id,
		Mode:         mode,
		Size:         binary.LittleEndian.Uint32(b[14:]),
		BlockSizeLog: b[18],
		MTU:          binary.LittleEndian.Uint16(b[19:]),
		Client:       mesh.Address(binary.LittleEndian.Uint16(b[21:])),
	}
	s.appKey = binary.LittleEndian.Uint16(b[23:])
	s.netKey = binary.LittleEndian.Uint16(b[25:])
	nb := 0
	if phase != PhaseWaitingForStart {
		nb = s.xfer.Blocks()
		if nb > MaxChunks {
			return fmt.Errorf("%w: %d blocks", errState, nb)
		}
	}
	if err := s.blocks.SetBitField(b[stateHeaderLen:], nb); err != nil {
		return fmt.Errorf("%w: %w", errState, err)
	}
	return nil
}
