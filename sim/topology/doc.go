// Package topology builds the node layouts the simulator runs on: single
// hop, line, grid, a random building with a radio range, and a JSON file
// (schema in docs/simulator.md, example in testdata/). A Topology is plain
// data (nodes with positions, directed links with a loss model) that Apply
// installs on a sim.Medium, plus graph helpers a scenario uses to configure
// the mesh: hop distances (BFS) and relay selection (every node, or a
// connected dominating set).
package topology
