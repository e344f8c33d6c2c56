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
// # Server
//
// Server is the BLOB Transfer Server model (SIG model 0x1400): every
// Transfer Phase, the status codes in the order Zephyr's blob_srv.c checks
// them, the inactivity timer (10·(Timeout Base + 1) s on the node's Clock),
// suspension and resumption, cancel, Push mode and Pull mode with Partial
// Block Reports, and capabilities from ServerConfig. Data goes to a Storage
// (MemoryStorage, FileStorage) through a Writer synced at every block end;
// the transfer state goes to a StateStore (MemoryStateStore,
// FileStateStore) at every phase change and block end, so a rebooted
// target comes back Suspended and resumes without receiving completed
// blocks again. The owner (the Firmware Update Server) prepares it with
// Prepare and hears about it through the On* callbacks of ServerConfig.
//
// On a Low Power node (ServerConfig.LPN) the server supports Pull only,
// sizes Max Chunk Size and the chunks per report to the Friend Queue it
// was granted, and polls its Friend during a transfer (server_lpn.go). The
// Client serves targets that support only the other mode (Low Power
// nodes: Pull) in the same transfer, with their own Transfer Start, by
// unicast (client_mixed.go). docs/friend-lpn.md, "Pull BLOB sizing".
//
// Facts and their sources are in docs/blob.md.
//
// # Concurrency
//
// Call every method on the node's executor; nothing here is safe for
// concurrent use, and nothing starts goroutines or reads the wall clock.
package blob
