import { Type } from 'typebox';
import { Id, Timestamp } from '../../platform/http/api-schema.js';

export const PhotoParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

const Url = Type.Union([Type.String({ format: 'uri' }), Type.Null()], { description: 'Absolute; null until the photo is ready.' });

export const PhotoSchema = Type.Object({
  id: Id,
  eventId: Id,
  uploaderId: Type.Union([Id, Type.Null()]),
  uploader: Type.Union([Type.Object({ id: Id, name: Type.String() }), Type.Null()], { description: 'Null once their account is gone.' }),
  status: Type.Union([Type.Literal('processing'), Type.Literal('ready'), Type.Literal('failed')]),
  width: Type.Union([Type.Integer(), Type.Null()]),
  height: Type.Union([Type.Integer(), Type.Null()]),
  bytes: Type.Integer(),
  contentType: Type.String(),
  takenAt: Type.Union([Timestamp, Type.Null()]),
  thumbnailUrl: Url,
  url: Type.Union([Type.String({ format: 'uri' }), Type.Null()], {
    description: 'The original, as uploaded but without its location unless locationShared: always signed and expiring. Null until ready.',
  }),
  displayUrl: Type.Union([Type.String({ format: 'uri' }), Type.Null()], { description: 'A 1600 px rendition for viewing in a page.' }),
  failureReason: Type.Union([Type.String(), Type.Null()]),
  locationShared: Type.Boolean({
    description: 'The uploader chose to share where it was taken: `url` (the original) keeps its location. Otherwise it is removed.',
  }),
  createdAt: Timestamp,
});

export const PhotoEnvelope = Type.Object({ photo: PhotoSchema });

/** The upload's body, for the document only: the route streams the parts itself. */
export const UploadBody = {
  required: true,
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: ['file'],
        properties: {
          file: { type: 'string', contentMediaType: 'application/octet-stream', description: 'JPEG, PNG, WebP, AVIF or GIF.' },
          shareLocation: {
            type: 'string',
            enum: ['true', 'false'],
            default: 'false',
            description:
              'Whether the original keeps where it was taken (EXIF GPS, XMP position and place names) for everyone who may download it. Removed unless "true".',
          },
        },
      },
    },
  },
};
