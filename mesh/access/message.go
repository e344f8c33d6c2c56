package access

import "fmt"

// Message is one access message of a model: a Go value with its opcode and
// a codec for its parameters (not the opcode).
type Message interface {
	// Opcode returns the message's opcode.
	Opcode() Opcode
	// AppendBinary appends the parameters to b.
	AppendBinary(b []byte) ([]byte, error)
	// Unmarshal decodes parameters p strictly; it does not retain p.
	Unmarshal(p []byte) error
}

// Marshal returns the whole access message: opcode then parameters.
func Marshal(m Message) ([]byte, error) { return AppendMessage(nil, m) }

// AppendMessage appends the whole access message m (opcode and parameters)
// to b.
func AppendMessage(b []byte, m Message) ([]byte, error) {
	start := len(b)
	b, err := AppendOpcode(b, m.Opcode())
	if err != nil {
		return b[:start], err
	}
	b, err = m.AppendBinary(b)
	if err != nil {
		return b[:start], fmt.Errorf("access: %s: %w", m.Opcode(), err)
	}
	if len(b)-start > MaxMessageSize {
		return b[:start], fmt.Errorf("%w: %s is %d octets, max %d", ErrTooLong, m.Opcode(), len(b)-start, MaxMessageSize)
	}
	return b, nil
}
