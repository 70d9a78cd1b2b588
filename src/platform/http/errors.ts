// Every error a client can see, in one place: a stable code, its HTTP status and
// a message that says what to do. Handlers throw AppError; the error handler
// renders it as JSON for the API and as a page for HTML.

export const ERRORS = {
  validation_failed: { status: 400, message: 'The request is not valid; see details.' },
  invalid_json: { status: 400, message: 'The body is not valid JSON.' },
  invalid_reset_link: {
    status: 400,
    message: 'This password reset link does not work: it was used already, it expired, or it is incomplete. Ask for a new one.',
  },
  invalid_cursor: { status: 400, message: 'The cursor is not valid; start again from the first page.' },
  not_signed_in: { status: 401, message: 'Sign in first.' },
  invalid_credentials: { status: 401, message: 'The email or password is not right.' },
  forbidden: { status: 403, message: 'You are not allowed to do that.' },
  wrong_password: { status: 403, message: 'The current password is not right.' },
  cross_site_request: { status: 403, message: 'Cross-site requests are refused; submit the form from this site.' },
  not_found: { status: 404, message: 'Nothing here.' },
  request_timeout: { status: 408, message: 'The request took too long to arrive; send it again.' },
  email_taken: { status: 409, message: 'An account with this email exists; sign in instead.' },
  event_full: { status: 409, message: 'The event is full.' },
  booking_closed: { status: 409, message: 'Bookings are closed: the event has started.' },
  capacity_below_bookings: { status: 409, message: 'Capacity cannot go below the places already booked.' },
  conflict: { status: 409, message: 'The request conflicts with the current state.' },
  too_large: { status: 413, message: 'The upload is larger than allowed.' },
  unsupported_type: { status: 415, message: 'The type is not supported.' },
  headers_too_large: { status: 431, message: 'The request headers are larger than allowed.' },
  rate_limited: { status: 429, message: 'Too many requests; wait and try again.' },
  unavailable: { status: 503, message: 'A dependency is down; try again shortly.' },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options: { details?: unknown; headers?: Record<string, string> } = {}) {
    super(message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
