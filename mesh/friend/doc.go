// Package friend implements the Bluetooth Mesh Friend feature and Low
// Power feature (Mesh Protocol v1.1 §3.5.5, §3.6.5.1–§3.6.5.9, §3.6.6;
// docs/friend-lpn.md).
//
// The codec has one type per friendship transport control message — Poll,
// Update, Request, Offer, Clear, ClearConfirm, SubListAdd, SubListRemove,
// SubListConfirm — each with Opcode, AppendBinary and a strict Unmarshal;
// Decode picks the type from the opcode. Parameters are big-endian, as in
// every transport-layer message.
//
// Friend is the Friend side: it answers Friend Requests with an Offer after
// the Friend Offer Delay (OfferDelay), registers the friendship credentials
// on the node's network.Subnets, stores messages for its Low Power nodes in
// a Friend Queue per LPN (segmented ones only once fully reassembled and
// acknowledged with OBO = 1; the oldest entries that are not Friend Updates
// are evicted when a queue is full, and FriendStats.QueueOverflows counts
// every evicted PDU), answers each Friend Poll ReceiveDelay after it
// arrived (the same PDU again when the FSN did not change), keeps the
// Friend Subscription List, ends a friendship on PollTimeout or a valid
// Friend Clear, and runs the Friend Clear procedure toward the LPN's
// previous Friend.
//
// LPN is the Low Power side: Friend Request to all-friends, the first
// acceptable Offer inside the 100 ms–1.1 s window, Friend Poll within 1 s,
// polling with the receive delay and window, resends after an empty
// window, the Friend Subscription List kept in step with the node's
// subscriptions, and a new Friend (PreviousAddress set) after the Friend
// stops answering. Its receiver is on only inside receive windows:
// Listening is the simulator's listening hook, and Stats/RadioOnTime give
// the radio-on time. QueueSize exposes the granted Friend Queue to
// applications (a BLOB Transfer Server in Pull mode sizes its requests
// with it).
//
// Both features seal their own network PDUs (friendship-tagged PDUs go out
// exactly once; stored messages keep their SRC, SEQ, decremented TTL and
// IV Index) and take what they need from the node through a Stack. The
// node wires them (mesh/node: Config.Friend, Config.LowPower): the network
// layer delivers PDUs for a Friend's LPNs (network.Config.ForLPN), Friend
// and LPN see delivered PDUs before the transport layer (Receive), an LPN
// sees raw PDUs before the network layer (Heard) so that the Network
// Message Cache cannot hide a Friend's answer, and an LPN's transport
// reassembles without acknowledging (transport.NetPDU.FromFriend).
//
// Not covered: directed friends (v1.1 directed forwarding), relaying an
// LPN's friendship-secured PDUs with managed-flooding credentials (Table
// 3.13; an LPN here sends its own messages with managed flooding), the
// Configuration Server's Friend and Low Power PollTimeout states, several
// friendships of one LPN on several subnets, and persisting the LPNCounter
// (LPNParams.Counter takes a saved value).
//
// Concurrency: call every method on the node's executor. The package never
// starts goroutines, sleeps or reads the wall clock; time comes from
// Stack.Clock.
package friend
