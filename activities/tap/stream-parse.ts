/**
 * Incremental parser of SIEM response bodies: consumes the body chunk by chunk and parses each
 * event of the four event arrays as soon as its bytes are complete, so that a large window never
 * exists as one Buffer or string next to its parsed events.
 *
 * The scanner only tracks strings, nesting and the delimiters `,` `:` `]` `}`. Each event and
 * each other top-level member is handed to JSON.parse, which validates it. This is safe on raw
 * UTF-8 bytes because every byte of a multi-byte UTF-8 sequence is 0x80 or above.
 */
import { TapResponseError } from './errors.ts';
import { parseSiemEvent, parseSiemObject, parseSiemResponse, TAP_EVENT_TYPES } from './parse.ts';
import type { TapEventType, TapSiemBatch } from './types.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

type Expectation = 'key' | 'value' | 'element' | 'delimiter';

/** Parses one SIEM response body incrementally; call {@link write} per chunk, then {@link end}. */
export class SiemStreamParser {
  readonly #batch: TapSiemBatch = { queryEndTime: null, events: [], invalid: [] };
  /** Top-level members other than streamed event arrays, parsed at the end. */
  readonly #members: Record<string, unknown> = {};

  #depth = 0;
  #inString = false;
  #escaped = false;
  #expect: Expectation = 'value';
  #key = '';
  #arrayType: TapEventType | null = null;
  #done = false;
  #bytes = 0;

  #capturing = false;
  #captureKind: 'key' | 'value' | 'element' = 'value';
  #captureDepth = 0;
  #captureStart = 0;
  #pieces: Buffer[] = [];

  /** Set when the body does not start with `{`: then the whole body is kept for parseSiemResponse's error. */
  #fallback: Buffer[] | null = null;
  #started = false;

  /** Consumes the next chunk of the body. */
  write(chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#fallback) {
      this.#fallback.push(chunk);
      return;
    }

    // Position of the first backslash at or after the scan position, or chunk.length when there
    // is none. It is searched again only after the scan passes it, so each chunk is searched once.
    let backslashAt = -1;
    for (let index = 0; index < chunk.length; index++) {
      if (this.#inString) {
        if (this.#escaped) {
          this.#escaped = false;
          continue;
        }
        // Most of a body's bytes are inside strings: jump to the next quote or backslash with
        // Buffer.indexOf instead of looking at each byte.
        if (backslashAt < index) {
          backslashAt = chunk.indexOf(BACKSLASH, index);
          if (backslashAt === -1) backslashAt = chunk.length;
        }
        const quoteAt = chunk.indexOf(QUOTE, index);
        if (backslashAt < (quoteAt === -1 ? chunk.length : quoteAt)) {
          this.#escaped = true;
          index = backslashAt;
          continue;
        }
        if (quoteAt === -1) break;
        this.#inString = false;
        index = quoteAt;
        continue;
      }

      const byte = chunk[index]!;
      if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;

      if (!this.#started) {
        this.#started = true;
        if (byte !== OPEN_BRACE) {
          this.#fallback = [chunk.subarray(index)];
          return;
        }
      }
      if (this.#done) throw this.#invalid('data after the end of the JSON object');
      this.#scan(byte, chunk, index);
    }

    if (this.#capturing) {
      this.#pieces.push(chunk.subarray(this.#captureStart));
      this.#captureStart = 0;
    }
  }

  /** Finishes the body and returns the batch; throws TapResponseError for an incomplete or invalid body. */
  end(): TapSiemBatch {
    if (this.#fallback) return parseSiemResponse(Buffer.concat(this.#fallback));
    if (!this.#started) return this.#batch;
    if (!this.#done) throw this.#invalid('the body ended before the JSON object was complete; it may be truncated');

    const rest = parseSiemObject(this.#members);
    this.#batch.queryEndTime = rest.queryEndTime;
    this.#batch.events.push(...rest.events);
    this.#batch.invalid.push(...rest.invalid);
    return this.#batch;
  }

  #scan(byte: number, chunk: Buffer, index: number): void {
    switch (byte) {
      case QUOTE:
        this.#inString = true;
        this.#startCapture(index);
        return;
      case OPEN_BRACE:
      case OPEN_BRACKET:
        this.#open(byte, index);
        return;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        this.#close(chunk, index);
        return;
      case COMMA:
        // A comma inside the captured value belongs to it.
        if (this.#capturing && this.#depth > this.#captureDepth) return;
        if (this.#capturing) this.#endCapture(chunk, index);
        else if (this.#expect !== 'delimiter') throw this.#invalid('unexpected comma');
        this.#expect = this.#depth === 1 ? 'key' : 'element';
        return;
      case COLON:
        if (this.#depth !== 1) return;
        if (!this.#capturing || this.#captureKind !== 'key') throw this.#invalid('unexpected colon');
        this.#endCapture(chunk, index);
        this.#expect = 'value';
        return;
      default:
        // The first byte of a number or literal.
        this.#startCapture(index);
    }
  }

  #open(byte: number, index: number): void {
    if (this.#depth === 0) {
      this.#depth = 1;
      this.#expect = 'key';
      return;
    }
    const eventArray = TAP_EVENT_TYPES.find((type) => type === this.#key);
    if (this.#depth === 1 && this.#expect === 'value' && byte === OPEN_BRACKET && eventArray) {
      this.#depth = 2;
      this.#arrayType = eventArray;
      this.#expect = 'element';
      return;
    }
    this.#startCapture(index);
    this.#depth += 1;
  }

  #close(chunk: Buffer, index: number): void {
    if (this.#capturing && this.#depth === this.#captureDepth) this.#endCapture(chunk, index);
    this.#depth -= 1;
    if (this.#depth === 1 && this.#arrayType) {
      this.#arrayType = null;
      this.#expect = 'delimiter';
    } else if (this.#depth === 0) {
      this.#done = true;
    } else if (this.#depth < 0) {
      throw this.#invalid('unbalanced closing bracket');
    }
  }

  #startCapture(index: number): void {
    if (this.#capturing) return;
    if (this.#expect === 'delimiter') throw this.#invalid('missing comma');

    this.#capturing = true;
    this.#captureKind = this.#expect === 'key' ? 'key' : this.#expect === 'element' ? 'element' : 'value';
    this.#captureDepth = this.#depth;
    this.#captureStart = index;
    this.#pieces = [];
  }

  #endCapture(chunk: Buffer, index: number): void {
    const last = chunk.subarray(this.#captureStart, index);
    const text = (this.#pieces.length === 0 ? last : Buffer.concat([...this.#pieces, last])).toString('utf8');
    this.#capturing = false;
    this.#pieces = [];

    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw this.#invalid(`${(err as Error).message} in ${JSON.stringify(text.slice(0, 80))}`);
    }

    if (this.#captureKind === 'key') {
      this.#key = String(value);
      return;
    }
    this.#expect = 'delimiter';
    if (this.#captureKind === 'value') {
      this.#members[this.#key] = value;
      return;
    }

    const result = parseSiemEvent(this.#arrayType!, value);
    if ('reason' in result) this.#batch.invalid.push(result);
    else this.#batch.events.push(result);
  }

  #invalid(problem: string): TapResponseError {
    return new TapResponseError(
      `TAP returned a body that is not valid JSON (${problem}, after ${this.#bytes} bytes received). The window is fetched again.`,
    );
  }
}
