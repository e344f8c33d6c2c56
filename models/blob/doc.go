// Package blob implements the Bluetooth Mesh BLOB Transfer Server and
// Client models (Mesh Binary Large Object Transfer Model, MshMBT v1.0):
// the message codec, the server with Push and Pull BLOB Transfer modes, and
// the client.
//
// # Codec
//
// messages*.go hold one type per message with its opcode (OpTransferGet …
// OpPartialBlockReport), the Status, Phase, TransferMode, SupportedModes and
// BlockFormat enumerations, the ChunkSet bit set used for Blocks Not
// Received and Missing Chunks, the UTF-8-style Encoded Missing Chunks list
// (AppendChunkNumber, ParseChunkList) and the block and chunk arithmetic
// (BlockCount, BlockLen, ChunkCount, ChunkLen). Decoders are strict: exact
// lengths, RFU bits and values rejected, no trailing octets; errors wrap
// ErrMessage and one of access.ErrLength, access.ErrRFU,
// access.ErrProhibited. Decoders never keep a reference to their input.
//
// Facts and their sources are in docs/blob.md.
//
// # Concurrency
//
// Call every method on the node's executor; nothing here is safe for
// concurrent use, and nothing starts goroutines or reads the wall clock.
package blob
