import { describe, expect, it } from 'vitest';
import {
  parseBoolean,
  parseDuration,
  parseJson,
  parseKeyValues,
  parseList,
  parsePercent,
} from '../src/parse';

describe('parseList', () => {
  it('splits a single line on commas and multi-line values on newlines only', () => {
    expect(parseList('a, b ,c')).toEqual(['a', 'b', 'c']);
    expect(parseList('data/a,b.csv\r\n\n  data/c.csv  \n')).toEqual(['data/a,b.csv', 'data/c.csv']);
    expect(parseList('  ')).toEqual([]);
  });
});

describe('parseBoolean', () => {
  it('accepts the YAML 1.2 core words and refuses anything else with what it accepts', () => {
    expect(parseBoolean('TRUE')).toBe(true);
    expect(parseBoolean('false')).toBe(false);
    expect(() => parseBoolean('maybe')).toThrow('expected a boolean: true or false');
  });
});

describe('parseDuration', () => {
  it('reads compound units and bare seconds into milliseconds', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5')).toBe(1500);
  });

  it.each(['', '5 minutes', '10x', 'm5', '5m garbage'])('rejects %j', (raw) => {
    expect(() => parseDuration(raw)).toThrow(/expected a duration such as 90s/);
  });
});

describe('parsePercent', () => {
  it('accepts 0 to 100 with or without the sign', () => {
    expect(parsePercent('10%')).toBe(10);
    expect(parsePercent(' 12.5 ')).toBe(12.5);
    expect(parsePercent('100%')).toBe(100);
  });
  it.each(['101%', '-1', 'ten', '%'])('rejects %j', (raw) => {
    expect(() => parsePercent(raw)).toThrow(/percentage from 0% to 100%/);
  });
});

describe('parseKeyValues and parseJson', () => {
  it('reads key=value and key: value lines, skipping comments', () => {
    expect(parseKeyValues('A=1\n# note\nB: two words\n\nURL=http://x?a=b')).toEqual({
      A: '1',
      B: 'two words',
      URL: 'http://x?a=b',
    });
  });
  it('names the bad line', () => {
    expect(() => parseKeyValues('A=1\njust words')).toThrow('line 2 is "just words"');
  });
  it('explains bad JSON', () => {
    expect(() => parseJson('{nope')).toThrow(/^expected JSON/);
  });
});
