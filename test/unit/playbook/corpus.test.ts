/**
 * The broken-playbook corpus: every test/fixtures/broken/<case>.yaml must fail loading or
 * validation with exactly the text in <case>.expected (file paths relative to the repo root).
 * Regenerate an expected file only after reading the new message: it is the user interface.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlaybookError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { validatePlaybook } from '../../../src/playbook/validate.js';
import { fakeFindTask, fakeRegistry } from './fakes.js';

const DIR = 'test/fixtures/broken';
const cases = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.replace(/\.yaml$/, ''))
  .sort();

function failureOf(file: string): PlaybookError {
  const inv = loadInventory('test/fixtures/inventory/hosts.yaml');
  try {
    const pb = loadPlaybook(file, fakeRegistry);
    validatePlaybook(pb, inv, { extraVars: {}, findTask: fakeFindTask });
  } catch (e) {
    if (e instanceof PlaybookError) return e;
    throw e;
  }
  throw new Error(`${file} was accepted, but it is in the broken corpus`);
}

describe('broken playbook corpus', () => {
  it('has at least 15 cases, each with an expected message', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    for (const c of cases) expect(readdirSync(DIR)).toContain(`${c}.expected`);
  });

  for (const c of cases) {
    it(c, () => {
      const err = failureOf(join(DIR, `${c}.yaml`));
      const expected = readFileSync(join(DIR, `${c}.expected`), 'utf8').replace(/\n$/, '');
      expect(err.userMessage()).toBe(expected);
    });
  }
});
