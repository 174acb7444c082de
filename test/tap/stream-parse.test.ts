import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { TapResponseError } from '../../activities/tap/errors.ts';
import { parseSiemResponse } from '../../activities/tap/parse.ts';
import { SiemStreamParser } from '../../activities/tap/stream-parse.ts';

const fixtures = new URL('../fixtures/tap/', import.meta.url);
const responseFiles = readdirSync(fixtures).filter((file) => file.endsWith('.json') && !file.startsWith('10-'));

function parseInChunks(body: Buffer, chunkSize: number) {
  const parser = new SiemStreamParser();
  for (let offset = 0; offset < body.length; offset += chunkSize)
    parser.write(body.subarray(offset, offset + chunkSize));
  return parser.end();
}

describe('SiemStreamParser', () => {
  for (const file of responseFiles) {
    test(`${file} matches parseSiemResponse`, () => {
      const body = readFileSync(new URL(file, fixtures));
      const expected = parseSiemResponse(body);
      for (const chunkSize of [1, 3, 64, 4096, body.length]) {
        const actual = parseInChunks(body, chunkSize);
        assert.deepEqual(actual.queryEndTime, expected.queryEndTime, `chunks of ${chunkSize}`);
        assert.deepEqual(actual.events, expected.events, `chunks of ${chunkSize}`);
        assert.deepEqual(
          new Set(actual.invalid.map((invalid) => invalid.reason)),
          new Set(expected.invalid.map((invalid) => invalid.reason)),
          `chunks of ${chunkSize}`,
        );
      }
    });
  }

  test('multi-byte UTF-8 split across chunks', () => {
    const body = Buffer.from(readFileSync(new URL('21-odd-cases.json', fixtures), 'utf8'));
    const subject = parseInChunks(body, 1).events.find((event) => event.guid.startsWith('Od1'));
    assert.match(String(subject?.raw.subject), /^Überweisung fällig – 請求書/);
  });

  test('escapes split at every chunk size', () => {
    // Quotes, backslash runs and delimiters inside strings, where a chunk boundary can fall
    // between a backslash and the character it escapes.
    const subject = 'a\\"b\\\\c\\\\\\"d,e}f]g:h\\u0022i\\\\';
    const body = Buffer.from(
      `{"queryEndTime":"2025-06-02T10:00:00Z","messagesDelivered":[` +
        `{"GUID":"esc-1","id":"1","messageTime":"2025-06-02T09:59:00Z","subject":"${subject}","recipient":["a@example.com"]},` +
        `{"GUID":"esc-2","id":"2","messageTime":"2025-06-02T09:59:01Z","subject":"\\\\","recipient":["b@example.com"]}` +
        `],"clicksPermitted":[]}`,
    );
    const expected = parseSiemResponse(body);
    assert.equal(expected.events.length, 2);
    for (let chunkSize = 1; chunkSize <= body.length; chunkSize++) {
      const actual = parseInChunks(body, chunkSize);
      assert.deepEqual(actual.events, expected.events, `chunks of ${chunkSize}`);
    }
  });

  test('every truncation is rejected', () => {
    const body = readFileSync(new URL('06-clicks-permitted-and-blocked.json', fixtures));
    const firstBrace = body.indexOf('{');
    for (let length = firstBrace + 1; length < body.length - 1; length += 7) {
      assert.throws(() => parseInChunks(body.subarray(0, length), 512), TapResponseError, `truncated at ${length}`);
    }
  });

  test('malformed bodies are rejected', () => {
    const bodies = [
      '{"queryEndTime":"2025-06-02T10:00:00Z" "messagesDelivered":[]}',
      '{"messagesDelivered":[{"GUID":"a"},,]}',
      '{"messagesDelivered":[{"GUID": tru}]}',
      '{"messagesDelivered":[]}}',
      '{"messagesDelivered":[]} x',
      '<html>maintenance</html>',
      '[]',
    ];
    for (const body of bodies) {
      assert.throws(() => parseInChunks(Buffer.from(body), 5), TapResponseError, body);
    }
  });

  test('empty and whitespace bodies are quiet', () => {
    assert.deepEqual(parseInChunks(Buffer.from(''), 1), { queryEndTime: null, events: [], invalid: [] });
    assert.deepEqual(parseInChunks(Buffer.from(' \n '), 1), { queryEndTime: null, events: [], invalid: [] });
  });

  test('unknown top-level members are ignored', () => {
    const batch = parseInChunks(
      Buffer.from(
        '{"extra":{"a":[1,{"b":"]}"}]},"queryEndTime":"2025-06-02T10:00:00Z","clicksBlocked":[],"n":-1.5e3,"t":true}',
      ),
      4,
    );
    assert.deepEqual(batch, { queryEndTime: '2025-06-02T10:00:00.000Z', events: [], invalid: [] });
  });
});
