// The Node (V8) flags the operator runs with: the image's ENTRYPOINT passes them (Dockerfile), and
// bench/scale.ts starts the operator with them, so what is measured is what is deployed.
//
// --max-semi-space-size=8: V8 in Node 24 lets its young generation grow to 128 MiB (two 64 MiB
// semi-spaces) under a high allocation rate, and an alert storm is one: parsed apiserver answers,
// request bodies, messages. That was about 110 MiB of the operator's 406 MiB peak at 10,000
// Reservations, mostly empty space between scavenges (docs/capacity.md). 8 MiB semi-spaces cap it
// at 16 MiB; objects that outlive two scavenges move to the old generation sooner, which costs a
// little CPU, not memory held. V8 reads this flag only at start: the process cannot set it itself.
//
// --heap-growing-percent=25: after each full GC, V8 lets the old generation grow to 1.25 times what
// survived before it collects again. By default that factor follows the mutator's speed and goes
// up to 4 on a machine with a few GiB: at a storm's start (10,000 deadlines judged at once) the old
// generation grew from 45 to 123 MiB in use while a heap snapshot found 68 MiB alive, the rest
// garbage not yet collected, and resident memory, once taken, stays with the process. 1.25 makes
// full GCs more frequent (some CPU), never a limit: the heap still grows as far as it has to.
//
// MALLOC_ARENA_MAX=2 (an environment variable, not a flag: the image sets it, bench/scale.ts too):
// glibc gives each thread that allocates its own malloc arena, up to 8 per core, and memory freed
// in one arena is not reused by another. The operator's native allocations (TLS records to the
// apiserver, socket buffers, the HTTP parser) come from libuv's and V8's threads as well as the
// main one, and after a restart's list or a storm the memory outside the V8 heap stayed high. Two
// arenas keep those allocations together at no cost a single-threaded JavaScript program notices.
//
// No heap cap (--max-old-space-size): the operator's memory figures are what it needs, not a
// limit it would crash against.
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=25'];

/** The environment the operator runs with beside its flags (see MALLOC_ARENA_MAX above). */
export const OPERATOR_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
