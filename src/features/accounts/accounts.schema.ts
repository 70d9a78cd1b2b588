import { Type } from 'typebox';
import { Id } from '../../platform/http/api-schema.js';
import { SESSION_COOKIE } from '../../platform/http/cookies.js';

export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
export const Password = Type.String({ minLength: 8, maxLength: 200 });
export const PersonName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });

export const SignupBody = Type.Object({ email: Email, password: Password, name: PersonName }, { additionalProperties: false });
// Login does not re-check password rules: an old password that predates a rule must still sign in.
export const LoginBody = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

// The current password, like a login's, is not re-checked against today's rules.
export const PasswordChangeBody = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: 200 }), newPassword: Password },
  { additionalProperties: false },
);

export const PasswordResetRequestBody = Type.Object({ email: Email }, { additionalProperties: false });
export const ResetRequestedEnvelope = Type.Object({ message: Type.String() });
// The token's shape is checked by the service, which answers a malformed one like any other that does not work.
export const PasswordResetBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 200 }), newPassword: Password },
  { additionalProperties: false },
);

export const UserSchema = Type.Object({
  id: Id,
  email: Type.String(),
  name: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
});
export const UserEnvelope = Type.Object({ user: UserSchema });
/** The user, with the session cookie set. */
export const SignedInEnvelope = Type.Object(
  { user: UserSchema },
  { headers: { 'set-cookie': { type: 'string', description: `The session cookie, ${SESSION_COOKIE}.` } } },
);
