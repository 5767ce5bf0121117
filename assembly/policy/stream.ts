// Word streams across the WebAssembly boundary for the policy resolver.
//
// The host encodes identities, selectors and rules as flat u32 words into
// `input` and the engine answers with flat u32 words in `output`. Both
// buffers are owned by the module and only ever grow; the host re-creates
// its views after any call that can grow memory.

let inputPtr: usize = 0;
let inputCapacity: u32 = 0;
let outputPtr: usize = 0;
let outputCapacity: u32 = 0;
let outputLength: u32 = 0;

/** Ensures the input buffer holds `words` words and returns its address. */
export function reserveInput(words: u32): usize {
  if (words > inputCapacity) {
    const cap = max<u32>(words, inputCapacity + (inputCapacity >> 1));
    inputPtr = inputPtr == 0 ? heap.alloc(<usize>cap << 2) : heap.realloc(inputPtr, <usize>cap << 2);
    inputCapacity = cap;
  }
  return inputPtr;
}

/** A cursor over the input words. */
export class Reader {
  pos: u32 = 0;
  constructor(public end: u32) {}

  // @ts-ignore: decorator
  @inline
  next(): u32 {
    // The host wrote `end` words; reading past them is an encoding bug.
    assert(this.pos < this.end, "policy input stream truncated");
    const at = this.pos;
    this.pos = at + 1;
    return load<u32>(inputPtr + (<usize>at << 2));
  }
}

/** Starts a fresh answer. */
export function resetOutput(): void {
  outputLength = 0;
}

/** Appends one word to the answer. */
export function emit(word: u32): void {
  if (outputLength == outputCapacity) {
    const cap = max<u32>(1024, outputCapacity << 1);
    outputPtr = outputPtr == 0 ? heap.alloc(<usize>cap << 2) : heap.realloc(outputPtr, <usize>cap << 2);
    outputCapacity = cap;
  }
  store<u32>(outputPtr + (<usize>outputLength << 2), word);
  outputLength++;
}

/** Overwrites word `at` of the answer (for counts known only after the fact). */
export function patch(at: u32, word: u32): void {
  store<u32>(outputPtr + (<usize>at << 2), word);
}

export function outputWords(): u32 {
  return outputLength;
}

export function outputAddress(): usize {
  return outputPtr;
}

/** Drops everything after the first `words` words of the answer. */
export function truncateOutput(words: u32): void {
  outputLength = words;
}
