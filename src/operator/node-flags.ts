// The Node (V8) flags the operator runs with: the image's ENTRYPOINT passes them (Dockerfile), and
// bench/scale.ts starts the operator with them, so what is measured is what is deployed.
//
// --max-semi-space-size=8: V8 in Node 24 lets its young generation grow to 128 MiB (two 64 MiB
// semi-spaces) under a high allocation rate, and an alert storm is one: parsed apiserver answers,
// request bodies, messages. That was about 110 MiB of the operator's 406 MiB peak at 10,000
// Reservations, mostly empty space between scavenges (docs/capacity.md). 8 MiB semi-spaces cap it
// at 16 MiB; objects that outlive two scavenges move to the old generation sooner, which costs a
// little CPU, not memory held. V8 reads this flag only at start: the process cannot set it itself.
// No heap cap (--max-old-space-size): the operator's memory figures are what it needs, not a
// limit it would crash against.
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
