/**
 * Collected problems. Loading and validation gather every problem they find and throw one
 * PlaybookError/InventoryError listing them all, each with file:line:col, the quoted line with a
 * caret, what was expected, and the fix, so one run of `validate` shows everything to repair.
 */
import { InventoryError, PlaybookError } from '../errors.js';
import type { Loc } from './types.js';

export interface Issue {
  loc?: Loc;
  message: string;
  /** How to fix it, one sentence. */
  hint?: string;
}

/** One issue in the same layout as FleetError.userMessage(). */
export function formatIssue(issue: Issue): string {
  const parts: string[] = [];
  parts.push(issue.loc ? `${issue.loc.file}:${issue.loc.line}:${issue.loc.col}: ${issue.message}` : issue.message);
  if (issue.loc) {
    parts.push(`    ${issue.loc.text}`);
    parts.push(`    ${' '.repeat(Math.max(0, issue.loc.col - 1))}^`);
  }
  if (issue.hint) parts.push(`  fix: ${issue.hint}`);
  return parts.join('\n');
}

function sortIssues(issues: readonly Issue[]): Issue[] {
  return [...issues].sort((a, b) => {
    if (!a.loc || !b.loc) return a.loc ? -1 : b.loc ? 1 : 0;
    if (a.loc.file !== b.loc.file) return a.loc.file < b.loc.file ? -1 : 1;
    return a.loc.line - b.loc.line || a.loc.col - b.loc.col;
  });
}

function dedupe(issues: readonly Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = formatIssue(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function build<E>(
  issues: readonly Issue[],
  make: (message: string, opts: { location?: Loc; hint?: string; cause?: unknown }) => E,
): E {
  const list = dedupe(sortIssues(issues));
  const first = list[0];
  if (list.length === 1 && first) {
    return make(first.message, {
      ...(first.loc ? { location: first.loc } : {}),
      ...(first.hint ? { hint: first.hint } : {}),
      cause: list,
    });
  }
  const body = list.map(formatIssue).join('\n\n');
  return make(`${list.length} problems found:\n\n${body}`, { cause: list });
}

/** One PlaybookError for all issues (its `cause` is the Issue list). */
export function playbookErrorFrom(issues: readonly Issue[]): PlaybookError {
  return build(issues, (m, o) => new PlaybookError(m, o));
}

/** One InventoryError for all issues. */
export function inventoryErrorFrom(issues: readonly Issue[]): InventoryError {
  return build(issues, (m, o) => new InventoryError(m, o));
}
