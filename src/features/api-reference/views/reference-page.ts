// The API reference at /api/docs: the OpenAPI document rendered on the server
// as one plain page (no script, no inline style), so it works offline, without
// JavaScript and under the site's Content-Security-Policy.
import { ERRORS, type ErrorCode } from '../../../platform/http/errors.js';
import { html, type SafeHtml } from '../../../platform/http/html.js';
import { page, type Viewer } from '../../../ui/layout.js';

type Schema = Record<string, any>;

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}

interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}

export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** A schema as a short TypeScript-like sketch, which reads better than JSON Schema. */
export function sketch(schema: Schema | undefined, indent = ''): string {
  if (!schema || Object.keys(schema).length === 0) return 'any';
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((value: unknown) => JSON.stringify(value)).join(' | ');
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) return variants.map((variant: Schema) => sketch(variant, indent)).join(' | ');
  const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.map((type) => sketchType(type, schema, indent)).join(' | ');
}

function constraints(schema: Schema): string {
  const parts: string[] = [];
  if (schema.format) parts.push(schema.format);
  if (schema.minLength !== undefined || schema.maxLength !== undefined)
    parts.push(`${schema.minLength ?? 0}-${schema.maxLength ?? '…'} characters`);
  if (schema.minimum !== undefined || schema.maximum !== undefined) parts.push(`${schema.minimum ?? '…'} to ${schema.maximum ?? '…'}`);
  if (schema.pattern) parts.push(`/${schema.pattern}/`);
  if (schema.maxItems !== undefined) parts.push(`at most ${schema.maxItems}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function sketchType(type: string | undefined, schema: Schema, indent: string): string {
  switch (type) {
    case 'object': {
      const properties = Object.entries((schema.properties ?? {}) as Record<string, Schema>);
      const extra = (schema.patternProperties ? Object.values(schema.patternProperties)[0] : schema.additionalProperties) as
        Schema | boolean | undefined;
      if (properties.length === 0) return typeof extra === 'object' ? `{ [key: string]: ${sketch(extra, indent)} }` : 'object';
      const required = new Set<string>(schema.required ?? []);
      const inner = `${indent}  `;
      const lines = properties.map(([name, property]) => {
        const note = property.description ? ` // ${property.description}` : '';
        return `${inner}${name}${required.has(name) ? '' : '?'}: ${sketch(property, inner)}${constraints(property)},${note}`;
      });
      return `{\n${lines.join('\n')}\n${indent}}`;
    }
    case 'array': {
      const item = sketch(schema.items as Schema | undefined, indent);
      return /[|\s]/.test(item) && !item.startsWith('{') ? `(${item})[]` : `${item}[]`;
    }
    case undefined:
      return 'any';
    default:
      return type;
  }
}

function who(security: Operation['security']): string {
  if (!security || security.length === 0) return 'Anyone.';
  if (security.some((requirement) => Object.keys(requirement).length === 0))
    return 'Anyone; with a session, what you may see depends on who you are.';
  return 'Signed in (session cookie).';
}

function errorCodes(schema: Schema | undefined): string[] {
  return (schema?.['x-error-codes'] as string[] | undefined) ?? [];
}

function operationSection(method: string, path: string, operation: Operation): SafeHtml {
  const parameters = operation.parameters ?? [];
  const [bodyType, body] = Object.entries(operation.requestBody?.content ?? {})[0] ?? [];
  return html`<section class="card operation" id="${operation.operationId ?? `${method}-${path}`}">
    <h3><span class="method">${method.toUpperCase()}</span> <code>${path}</code></h3>
    <p>${operation.summary ?? ''}</p>
    ${operation.description ? html`<p class="muted">${operation.description}</p>` : ''}
    <p><strong>Who:</strong> ${who(operation.security)}</p>
    ${
      parameters.length
        ? html`<table class="table">
            <thead>
              <tr>
                <th>Parameter</th>
                <th>In</th>
                <th>Value</th>
                <th>Notes</th>
              </tr>
            </thead>
            <tbody>
              ${parameters.map(
                (parameter) =>
                  html`<tr>
                    <td><code>${parameter.name}</code>${parameter.required ? '' : ' (optional)'}</td>
                    <td>${parameter.in}</td>
                    <td><code>${sketch(parameter.schema)}${constraints(parameter.schema ?? {})}</code></td>
                    <td>${parameter.description ?? parameter.schema?.description ?? ''}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : ''
    }
    ${
      body
        ? html`<p><strong>Body</strong> (<code>${bodyType}</code>):</p>
            <pre class="schema">${sketch(body.schema)}</pre>`
        : ''
    }
    <table class="table">
      <thead>
        <tr>
          <th>Status</th>
          <th>Answer</th>
        </tr>
      </thead>
      <tbody>
        ${Object.entries(operation.responses ?? {}).map(([status, response]) => {
          const schema = response.content?.['application/json']?.schema;
          const codes = errorCodes(schema);
          return html`<tr>
            <td>${status}</td>
            <td>
              ${
                codes.length
                  ? html`<ul class="plain">
                      ${codes.map((code) => html`<li><code>${code}</code> ${ERRORS[code as ErrorCode]?.message ?? ''}</li>`)}
                    </ul>`
                  : html`${response.description ?? ''}${schema ? html`<pre class="schema">${sketch(schema)}</pre>` : ''}`
              }
            </td>
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}

/** The page's main part; the same for every viewer, so it is rendered once. */
export function referenceBody(document: OpenApiDocument): SafeHtml {
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ method, path, operation: item[method]! })),
  );
  const tags = document.tags ?? [];
  const inTag = (tag: string) => operations.filter(({ operation }) => (operation.tags?.[0] ?? 'other') === tag);
  return html`<section class="reference">
    <h1>${document.info.title} reference</h1>
    <p>${document.info.description ?? ''}</p>
    <p>
      Version ${document.info.version}, at <code>${document.servers?.[0]?.url ?? ''}</code>. The machine-readable document:
      <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).
    </p>
    <h2>Conventions</h2>
    <ul>
      <li>Bodies are JSON; times are ISO 8601 with an offset; ids are opaque strings.</li>
      <li>
        Lists take <code>limit</code> (1-100, default 20) and <code>cursor</code>, and answer
        <code>{"items":[...],"nextCursor":string|null}</code>.
      </li>
      <li>
        Errors answer <code>{"error":{"code","message"}}</code> (validation errors add <code>details</code>); each operation lists its codes
        below. 429 carries <code>retry-after</code>.
      </li>
      <li>
        Signing up or in sets the session cookie; send it back (curl <code>-c</code>/<code>-b</code>). Unsafe methods from another site are
        refused.
      </li>
    </ul>
    <nav aria-label="Operations">
      ${tags.map(
        (tag) =>
          html`<h2>${tag.description ?? tag.name}</h2>
            <ul class="operation-index">
              ${inTag(tag.name).map(
                ({ method, path, operation }) =>
                  html`<li>
                    <a href="#${operation.operationId ?? ''}"><span class="method">${method.toUpperCase()}</span> ${path}</a>
                    ${operation.summary ?? ''}
                  </li>`,
              )}
            </ul>`,
      )}
    </nav>
    ${tags.map(
      (tag) =>
        html`<h2>${tag.description ?? tag.name}</h2>
          ${inTag(tag.name).map((o) => operationSection(o.method, o.path, o.operation))}`,
    )}
  </section>`;
}

export function referencePage(body: SafeHtml, viewer: Viewer | null): string {
  return page({ title: 'API reference', viewer, body, description: 'The EPU JSON API: every operation, its inputs and its answers.' });
}
