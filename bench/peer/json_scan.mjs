// Raw positions inside a JSON object text that JSON.parse has accepted:
// the protocol forwards the sender's bytes with only the handler value
// changed, and a few checks look at how a value was written (an integer
// t1 must be written as an integer). Walks the top level only.

// Index just past the JSON value that starts at i (valid JSON assumed).
function skipValue(s, i) {
  const c = s.charCodeAt(i);
  if (c === 34) { // "
    for (i++; ; i++) {
      const d = s.charCodeAt(i);
      if (d === 92) i++; // backslash: skip the escaped character
      else if (d === 34) return i + 1;
    }
  }
  if (c === 123 || c === 91) { // { [
    let depth = 0;
    for (; ; i++) {
      const d = s.charCodeAt(i);
      if (d === 34) { i = skipValue(s, i) - 1; continue; }
      if (d === 123 || d === 91) depth++;
      else if (d === 125 || d === 93) { depth--; if (depth === 0) return i + 1; }
    }
  }
  while (i < s.length && !',}] \t\r\n'.includes(s[i])) i++;
  return i;
}

function skipSpace(s, i) {
  while (i < s.length && ' \t\r\n'.includes(s[i])) i++;
  return i;
}

// [start, end) of the raw value of top-level key `key`, or null.
export function rawValueSpan(s, key) {
  let i = skipSpace(s, 0) + 1; // past {
  for (;;) {
    i = skipSpace(s, i);
    if (s[i] !== '"') return null;
    const kEnd = skipValue(s, i);
    const raw = s.slice(i, kEnd);
    const name = raw.includes('\\') ? JSON.parse(raw) : raw.slice(1, -1);
    i = skipSpace(s, kEnd) + 1; // past :
    i = skipSpace(s, i);
    const vEnd = skipValue(s, i);
    if (name === key) return [i, vEnd];
    i = skipSpace(s, vEnd);
    if (s[i] !== ',') return null;
    i++;
  }
}
