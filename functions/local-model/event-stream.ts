import { EventStreamCodec } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';

/**
 * AWS event-stream framing (`application/vnd.amazon.eventstream`) as `InvokeEndpointWithResponseStream` returns it:
 * each frame is a `PayloadPart` event whose payload is the `Bytes` member, or a `ModelStreamError` exception.
 * Uses the SDK's own codec, so what we write is exactly what the SDK's decoder reads.
 */
const codec = new EventStreamCodec(toUtf8, fromUtf8);

export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

export function encodePayloadPart(bytes: Uint8Array): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: 'PayloadPart' },
      ':content-type': { type: 'string', value: 'application/octet-stream' },
    },
    body: bytes,
  });
}

/** A mid-stream failure, surfaced by the SDK as a thrown `ModelStreamError`. */
export function encodeModelStreamError(message: string, errorCode: string): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'exception' },
      ':exception-type': { type: 'string', value: 'ModelStreamError' },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(JSON.stringify({ Message: message, ErrorCode: errorCode })),
  });
}

/** SageMaker's own streaming failure ("Try your request again"), surfaced by the SDK as `InternalStreamFailure`. */
export function encodeInternalStreamFailure(message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'exception' },
      ':exception-type': { type: 'string', value: 'InternalStreamFailure' },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(JSON.stringify({ Message: message })),
  });
}
