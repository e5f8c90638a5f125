// Every setting src/config.ts reads is documented in the README's configuration table, so a limit an operator cannot
// find is caught here rather than in production.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTING_NAMES } from '../../src/config.js';

function configurationTableNames(readme: string): Set<string> {
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? '';
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    const cell = /^\|\s*`([A-Z0-9_]+)`/.exec(line);
    if (cell?.[1]) names.add(cell[1]);
  }
  return names;
}

describe('configuration table', () => {
  it('has a row for every setting', () => {
    const documented = configurationTableNames(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'));
    expect(documented.size).toBeGreaterThan(20);
    expect(SETTING_NAMES.filter((name) => !documented.has(name))).toEqual([]);
  });
});
