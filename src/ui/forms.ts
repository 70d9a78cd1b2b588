// Form fields with their problems beside them: a label, the control, an
// optional hint and, when the last submission was refused, a plain-language
// message the control points at (aria-invalid, aria-describedby). A summary at
// the top links to each field, for people who start reading there.
import { html, type SafeHtml } from '../platform/http/html.js';
import type { FieldProblem } from '../platform/http/validation.js';

/** What a refused form shows: each field's problem in plain language, and problems that belong to no field. */
export interface FormProblems {
  fields: Record<string, string>;
  general?: string;
}

/** A refused form's values (as typed) and problems, to render it again. */
export interface FormState {
  values: Record<string, string | undefined>;
  problems: FormProblems;
}

/**
 * Plain-language problems from a refusal. `messages` says, per field, what a
 * valid value looks like (it replaces the schema's wording, which names rules
 * and not what to type); `byCode` puts an error code (email_taken) on a field.
 */
export type FieldMessages = Record<string, string | ((problem: string) => string)>;

export function problemsFrom(
  error: { code: string; message: string; details?: unknown },
  messages: FieldMessages,
  byCode: Record<string, { field: string; message?: string }> = {},
): FormProblems {
  const placed = byCode[error.code];
  if (placed) return { fields: { [placed.field]: placed.message ?? error.message } };
  const details = Array.isArray(error.details) ? (error.details as FieldProblem[]) : [];
  const fields: Record<string, string> = {};
  let unplaced = false;
  for (const detail of details) {
    // "capacity" or "endsAt"; a nested path names its top field.
    const field = detail.field.split(/[.,\s]/)[0] ?? '';
    const message = messages[field];
    if (message) fields[field] ??= typeof message === 'string' ? message : message(detail.problem);
    else unplaced = true;
  }
  if (Object.keys(fields).length === 0 || unplaced) return { fields, general: error.message };
  return { fields };
}

const errorId = (id: string) => `${id}-error`;

export interface FieldOptions {
  id: string;
  label: string | SafeHtml;
  problem?: string;
  hint?: string | SafeHtml;
  /** Renders the control with the attributes the field owns (id, aria-invalid, aria-describedby). */
  control: (attributes: SafeHtml) => SafeHtml;
  /** A checkbox: the label follows the control. */
  inline?: boolean;
}

/** The id, aria-invalid and aria-describedby a control carries. */
export function controlAttributes(id: string, problem?: string, hint?: boolean): SafeHtml {
  const describedBy = [hint ? `${id}-hint` : '', problem ? errorId(id) : ''].filter(Boolean).join(' ');
  return html`id="${id}"${problem ? html` aria-invalid="true"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}`;
}

export function fieldProblem(id: string, problem?: string): SafeHtml {
  return problem ? html`<p class="field-error" id="${errorId(id)}"><span class="visually-hidden">Error: </span>${problem}</p>` : html``;
}

export function field(options: FieldOptions): SafeHtml {
  const { id, problem } = options;
  const control = options.control(controlAttributes(id, problem, options.hint !== undefined));
  const hint = options.hint !== undefined ? html`<span class="hint" id="${id}-hint">${options.hint}</span>` : '';
  if (options.inline) {
    return html`<div class="field${problem ? ' invalid' : ''}">
      <label class="check">${control} ${options.label}</label>${hint}${fieldProblem(id, problem)}
    </div>`;
  }
  return html`<div class="field${problem ? ' invalid' : ''}">
    <label for="${id}">${options.label}</label>${hint}${fieldProblem(id, problem)}${control}
  </div>`;
}

/** The summary at the top of a refused form: each problem, linking to its field. `ids` maps field names to control ids. */
export function errorSummary(problems: FormProblems | undefined, ids: Record<string, string> = {}): SafeHtml {
  if (!problems) return html``;
  const entries = Object.entries(problems.fields);
  if (entries.length === 0 && !problems.general) return html``;
  return html`<div class="alert" role="alert" tabindex="-1" id="form-errors">
    <p><strong>${entries.length > 0 ? 'Please fix this:' : problems.general}</strong></p>
    ${
      entries.length > 0
        ? html`<ul>
            ${problems.general ? html`<li>${problems.general}</li>` : ''}
            ${entries.map(([name, problem]) => html`<li><a href="#${ids[name] ?? name}">${problem}</a></li>`)}
          </ul>`
        : ''
    }
  </div>`;
}
