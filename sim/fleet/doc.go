// Package fleet builds a simulated Bluetooth Mesh network of complete nodes
// (mesh/node: network, transport, access, Configuration Server, beacons) on
// the radio simulator (package sim), for scenario tests, benchmarks and
// `meshdfu sim`.
//
// New takes a Config: a seed, a topology (a *topology.Topology, a builder,
// or a node count for single hop), which nodes relay (a dominating set by
// default, all, none, or an explicit set), an optional loss model that
// replaces every link's, the medium's settings, every node's Network
// Transmit, Relay Retransmit, Default TTL, SAR states, an optional pcap
// writer and logger, and a Models callback that gives each node its
// application models (later issues add BLOB and DFU models through it).
// From these it writes a Mesh Configuration Database (cdb.NewNetwork with
// key material from the seed, then cdb.AddNode per node in node order, so
// node i is the i-th entry and node 0 is at 0x0001), lets Preconfigure edit
// each node's entry, and builds every node from its entry with
// node.ProvisioningFromCDB: a sim.Clock, a bearer/sim Bearer, a random
// source from the engine and a node.MemoryStore per node. Node 0 is the
// provisioner: it holds every AppKey and a Configuration Client that knows
// every device key.
//
// Configure runs a Plan from node 0's Configuration Client (AppKey Add,
// Model App Bind, Subscription Add, Publication Set) over many nodes, some
// in parallel, retrying steps that time out. PowerOff, PowerOn and Reboot
// model power cycles: the radio goes off, the engine cancels the node's
// timers, and a new node.Node starts from the same store. Metrics merges
// the medium's counters with every node's network, transport and node
// counters (kept across reboots). Keys gives the secrets in the form
// Wireshark wants, with the tshark -o options.
//
// Choosing parameters under loss: a Configuration Client whose retry
// interval (ClientConfig.Timeout / (Retries+1)) is shorter than a
// segmented request's SAR transfer time sends new copies while old ones
// are still queued behind each other, and the relays' advertisers saturate
// (congestion collapse: TestConfigure_50NodesBuilding failed that way with
// a 3 s interval). Keep the client's interval above the SAR budget, about
// (UnicastRetransmissionsCount+1) × UnicastRetransmissionsInterval(TTL),
// and raise the SAR budget rather than the client's retries.
//
// Everything runs on the engine's loop, on the goroutine that calls the
// Run methods; call Fleet methods from that goroutine, between runs or from
// node callbacks. A run is a pure function of the Config (Engine.Digest).
package fleet
