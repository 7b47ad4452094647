// Loads the interop vectors: $SIMPATICO_VECTORS (a file), else
// $SHARED/vectors (as the Makefile and tests/run.sh; relative to the repo),
// else ../shared/vectors beside the repo (the work tree's and CI's layout).
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../relay.mjs';

export function vectorsPath() {
  const candidates = [
    process.env.SIMPATICO_VECTORS,
    process.env.SHARED && path.resolve(ROOT, process.env.SHARED, 'vectors', 'registration.json'),
    path.join(ROOT, '..', 'shared', 'vectors', 'registration.json'),
  ].filter(Boolean);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`registration.json not found in: ${candidates.join(', ')}`);
  return found;
}

export function loadVectors() {
  return JSON.parse(fs.readFileSync(vectorsPath(), 'utf8'));
}
