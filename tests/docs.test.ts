// The operator documents name only commands that exist, and every alert's
// runbook link lands on a heading of RUNBOOK.md.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const DOCUMENTS = ['README.md', 'DEPLOYMENT.md', 'RUNBOOK.md', 'SECURITY.md', 'CHANGELOG.md', 'docs/performance.md'];

const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

/** Command names of `epu`, from the `commands` table in cli.ts, with the verbs its usage text lists for each. */
function cliCommands(): Map<string, Set<string>> {
  const source = read('src/entrypoints/cli.ts');
  const table = source.match(/const commands\b.*?= \{\n([\s\S]*?)\n\};/);
  if (!table) throw new Error('no `const commands = {…}` table in src/entrypoints/cli.ts');
  const commands = new Map<string, Set<string>>();
  for (const match of table[1]!.matchAll(/^\s*(?:'([\w-]+)'|(\w+))\s*:/gm)) commands.set((match[1] ?? match[2])!, new Set());
  // Usage lines: "  jobs run NAME | jobs list [--status S] | jobs retry ID   description".
  const usage = source.match(/const USAGE = `([\s\S]*?)`/)?.[1] ?? '';
  for (const line of usage.split('\n')) {
    const syntax = line.trim().split(/\s{3,}/)[0] ?? '';
    let current: string | undefined;
    for (const alternative of syntax.split(' | ')) {
      const [first, second] = alternative.trim().split(/\s+/);
      if (first && commands.has(first)) {
        current = first;
        if (second && /^[a-z][a-z-]*$/.test(second)) commands.get(current)!.add(second);
      } else if (current && first && /^[a-z][a-z-]*$/.test(first)) {
        commands.get(current)!.add(first);
      }
    }
  }
  return commands;
}

function scripts(packageFile: string): Set<string> {
  return new Set(Object.keys((JSON.parse(read(packageFile)) as { scripts?: Record<string, string> }).scripts ?? {}));
}

interface Mention {
  file: string;
  line: number;
  text: string;
}

/** Every `epu X [Y]`, `npx epu X [Y]`, `npm run X`, `npm start|test` in the documents. */
function mentions(): { epu: (Mention & { command: string; verb?: string })[]; npm: (Mention & { script: string; packageFile: string })[] } {
  const epu: (Mention & { command: string; verb?: string })[] = [];
  const npm: (Mention & { script: string; packageFile: string })[] = [];
  for (const file of DOCUMENTS.filter((f) => fs.existsSync(path.join(root, f)))) {
    read(file)
      .split('\n')
      .forEach((text, index) => {
        const line = index + 1;
        for (const match of text.matchAll(/(?<![\w./-])epu ([a-z][\w-]*)(?: ([a-z][\w.-]*))?/g)) {
          epu.push({ file, line, text: match[0], command: match[1]!, verb: match[2] });
        }
        for (const match of text.matchAll(/(?<![\w-])npm (?:run(?:-script)? ([\w:.-]+)|(start|test)\b)/g)) {
          // `cd infra && npm …` runs infra's own package.
          const before = text.slice(0, match.index);
          const packageFile = /cd infra\b[^`;|]*&&\s*(?:npm ci\s*&&\s*)?$/.test(before) ? 'infra/package.json' : 'package.json';
          npm.push({ file, line, text: match[0], script: match[1] ?? match[2]!, packageFile });
        }
      });
  }
  return { epu, npm };
}

describe('operator documents', () => {
  it('exist', () => {
    for (const file of ['DEPLOYMENT.md', 'RUNBOOK.md', 'SECURITY.md', 'CHANGELOG.md'])
      expect(fs.existsSync(path.join(root, file)), file).toBe(true);
  });

  it('name only `epu` commands (and verbs) that cli.ts has', () => {
    const commands = cliCommands();
    expect([...commands.keys()]).toEqual(
      expect.arrayContaining(['start', 'web', 'worker', 'functions', 'migrate', 'admin', 'jobs', 'flags', 'smoke']),
    );
    const { epu } = mentions();
    expect(epu.length).toBeGreaterThan(20);
    const unknown: string[] = [];
    for (const m of epu) {
      const where = `${m.file}:${m.line} "${m.text}"`;
      const verbs = commands.get(m.command);
      if (!verbs) {
        unknown.push(`${where}: no command "${m.command}"`);
        continue;
      }
      if (verbs.size > 0 && m.verb !== undefined && !verbs.has(m.verb))
        unknown.push(`${where}: "${m.command}" has no "${m.verb}" (${[...verbs].join(', ')})`);
    }
    expect(unknown).toEqual([]);
  });

  it('name only npm scripts that package.json has', () => {
    const { npm } = mentions();
    expect(npm.length).toBeGreaterThan(0);
    const known = new Map<string, Set<string>>();
    const unknown = npm
      .filter((m) => {
        if (!known.has(m.packageFile)) known.set(m.packageFile, scripts(m.packageFile));
        return !known.get(m.packageFile)!.has(m.script);
      })
      .map((m) => `${m.file}:${m.line} "${m.text}": no script "${m.script}" in ${m.packageFile}`);
    expect(unknown).toEqual([]);
  });

  it('RUNBOOK.md has a heading for every alert runbook_url anchor', () => {
    const anchors = new Set(
      read('RUNBOOK.md')
        .split('\n')
        .filter((line) => /^#{1,6} /.test(line))
        // GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
        .map((line) =>
          line
            .replace(/^#+ /, '')
            .trim()
            .toLowerCase()
            .replace(/[^\p{L}\p{N} _-]/gu, '')
            .replace(/ /g, '-'),
        ),
    );
    const rulesDir = 'deploy/observability/prometheus/rules';
    const links: string[] = [];
    for (const file of fs.readdirSync(path.join(root, rulesDir)).filter((f) => f.endsWith('.yml'))) {
      const doc = parse(read(path.join(rulesDir, file))) as {
        groups?: { rules?: { alert?: string; annotations?: { runbook_url?: string } }[] }[];
      };
      for (const rule of (doc.groups ?? []).flatMap((g) => g.rules ?? [])) {
        if (!rule.alert) continue;
        const url = rule.annotations?.runbook_url;
        expect(url, `${rule.alert} has a runbook_url`).toBeDefined();
        links.push(url!);
      }
    }
    expect(links.length).toBeGreaterThanOrEqual(10);
    const missing = links.filter((url) => {
      const [file, anchor] = url.split('#');
      return !file!.endsWith('RUNBOOK.md') || !anchor || !anchors.has(anchor);
    });
    expect(missing).toEqual([]);
    for (const section of [
      'scale',
      'restore',
      'rotate-secrets',
      'roll-back-a-release',
      'investigate-errors',
      'disaster-recovery-drill',
      'routine-operations',
    ]) {
      expect(anchors.has(section), section).toBe(true);
    }
  });

  it('links in RUNBOOK.md point at its own headings', () => {
    const text = read('RUNBOOK.md');
    const headings = new Set(
      text
        .split('\n')
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) =>
          l
            .replace(/^#+ /, '')
            .trim()
            .toLowerCase()
            .replace(/[^\p{L}\p{N} _-]/gu, '')
            .replace(/ /g, '-'),
        ),
    );
    const broken = [...text.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!).filter((anchor) => !headings.has(anchor));
    expect(broken).toEqual([]);
  });
});

describe('decision records', () => {
  const records = fs.readdirSync(path.join(root, 'docs/decisions')).filter((file) => file.endsWith('.md'));

  it('each have a number of their own, which their title repeats', () => {
    const numbers = records.map((file) => file.slice(0, 4));
    const repeated = numbers.filter((number, i) => numbers.indexOf(number) !== i);
    expect(repeated, `decision numbers used twice: ${repeated.join(', ')}; renumber the newer record`).toEqual([]);
    for (const file of records) {
      expect(file).toMatch(/^\d{4}-[a-z0-9-]+\.md$/);
      expect(read(`docs/decisions/${file}`).split('\n')[0]).toContain(String(Number(file.slice(0, 4))).padStart(4, '0'));
    }
  });
});

describe('decision records', () => {
  const directory = path.join(root, 'docs', 'decisions');
  const records = fs.readdirSync(directory).filter((name) => /^\d{4}-.+\.md$/.test(name));

  it('each has one number of its own, a Status line and a Date line', () => {
    const numbers = records.map((name) => name.slice(0, 4));
    expect(new Set(numbers).size).toBe(numbers.length);
    for (const name of records) {
      const text = fs.readFileSync(path.join(directory, name), 'utf8');
      expect(text.match(/^Status: \S.*$/gm), `${name}: one Status line`).toHaveLength(1);
      expect(text.match(/^Date: \d{4}-\d{2}-\d{2}\b.*$/gm), `${name}: one Date line (YYYY-MM-DD)`).toHaveLength(1);
    }
  });

  it('a superseded record names the record that supersedes it, and that record exists', () => {
    for (const name of records) {
      const status = /^Status: (.*)$/m.exec(fs.readFileSync(path.join(directory, name), 'utf8'))?.[1] ?? '';
      if (!/superseded/i.test(status)) continue;
      const by = /superseded by (\d{4})/i.exec(status)?.[1];
      expect(by, `${name}: "superseded by NNNN"`).toBeDefined();
      expect(
        records.some((other) => other.startsWith(`${by}-`)),
        `${name}: record ${by} exists`,
      ).toBe(true);
    }
  });
});
