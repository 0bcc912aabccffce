import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { toHttpError } from '#core/errors';
import type { HttpResponse, RawRequest } from '#platforms/types';

/**
 * API Gateway REST proxy event → the adapters' `RawRequest`. Header names are lower-cased (payload versions differ);
 * a base64 body is decoded to its exact bytes and a text body is re-encoded as the UTF-8 bytes API Gateway received,
 * so signatures are verified over the raw bytes and Chinese text is never corrupted by an `ascii` decode.
 */
export function toRawRequest(event: APIGatewayProxyEvent): RawRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  const raw = event.body ?? '';
  const body = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  const method = event.httpMethod.toUpperCase() === 'GET' ? 'GET' : 'POST';
  return { method, headers, query, body };
}

export function toProxyResult(response: HttpResponse): APIGatewayProxyResult {
  return { statusCode: response.statusCode, headers: { ...response.headers }, body: response.body };
}

/** The one place an error becomes an HTTP answer: JSON `{"error":{"code","message"}}`, details only in logs. */
export function errorResult(err: unknown, extraHeaders: Record<string, string> = {}): APIGatewayProxyResult {
  const { statusCode, body } = toHttpError(err);
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...extraHeaders },
    body: JSON.stringify(body),
  };
}
