import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { QueueNotFoundError } from '../lifecycle/errors.js';
import type { QueueMessage, QueuePort } from '../lifecycle/ports.js';
import { awsErrorName, toDomainError } from './errors.js';

type Sqs = Pick<SQSClient, 'send'>;

const QUEUE_MISSING = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue']);
const HANDLE_GONE = new Set(['ReceiptHandleIsInvalid', 'InvalidParameterValue', 'MessageNotInflight']);

/** Resolves the queue URL; throws QueueNotFoundError naming queue and region when it does not exist. */
export async function resolveQueueUrl(sqs: Sqs, queueName: string, region: string, signal: AbortSignal): Promise<string> {
  try {
    const out = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }), { abortSignal: signal });
    if (!out.QueueUrl) throw new QueueNotFoundError(queueName, region);
    return out.QueueUrl;
  } catch (e) {
    if (QUEUE_MISSING.has(awsErrorName(e))) throw new QueueNotFoundError(queueName, region, { cause: e });
    throw toDomainError(e, 'sqs:GetQueueUrl');
  }
}

export interface QueueSettings {
  readonly hasRedrivePolicy: boolean;
  /** The redrive policy's maxReceiveCount; undefined without one. */
  readonly maxReceiveCount: number | undefined;
  readonly visibilityTimeoutSeconds: number;
}

export async function readQueueSettings(sqs: Sqs, queueUrl: string, signal: AbortSignal): Promise<QueueSettings> {
  try {
    const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'] }), { abortSignal: signal });
    const redrive = out.Attributes?.RedrivePolicy;
    return {
      hasRedrivePolicy: Boolean(redrive),
      maxReceiveCount: redrive ? maxReceiveCountOf(redrive) : undefined,
      visibilityTimeoutSeconds: Number(out.Attributes?.VisibilityTimeout ?? 30),
    };
  } catch (e) {
    throw toDomainError(e, 'sqs:GetQueueAttributes');
  }
}

function maxReceiveCountOf(redrivePolicy: string): number | undefined {
  try {
    const n = Number((JSON.parse(redrivePolicy) as { maxReceiveCount?: unknown }).maxReceiveCount);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The queue port over one SQS queue URL. */
export class SqsQueue implements QueuePort {
  /** `apiTimeoutMs`: bound on a request beyond its long-poll wait. */
  constructor(private readonly sqs: Sqs, readonly queueUrl: string, private readonly apiTimeoutMs = 30_000) {}

  async receive(request: { maxMessages: number; waitTimeSeconds: number; visibilityTimeoutSeconds: number }, signal: AbortSignal): Promise<QueueMessage[]> {
    try {
      const out = await this.sqs.send(new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: request.maxMessages,
        WaitTimeSeconds: request.waitTimeSeconds,
        VisibilityTimeout: request.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'SenderId', 'ApproximateFirstReceiveTimestamp'],
      }), { abortSignal: signal, requestTimeout: request.waitTimeSeconds * 1000 + this.apiTimeoutMs });
      return (out.Messages ?? []).flatMap((m) => (m.MessageId && m.ReceiptHandle ? [{
        messageId: m.MessageId,
        receiptHandle: m.ReceiptHandle,
        body: m.Body ?? '',
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
        sentAtMs: m.Attributes?.SentTimestamp ? Number(m.Attributes.SentTimestamp) : undefined,
        firstReceivedAtMs: m.Attributes?.ApproximateFirstReceiveTimestamp ? Number(m.Attributes.ApproximateFirstReceiveTimestamp) : undefined,
      }] : []));
    } catch (e) {
      throw toDomainError(e, 'sqs:ReceiveMessage');
    }
  }

  async delete(receiptHandle: string, signal: AbortSignal): Promise<void> {
    try {
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle }), { abortSignal: signal });
    } catch (e) {
      if (HANDLE_GONE.has(awsErrorName(e))) return; // already deleted
      throw toDomainError(e, 'sqs:DeleteMessage');
    }
  }

  async changeVisibility(receiptHandle: string, visibilityTimeoutSeconds: number, signal: AbortSignal): Promise<void> {
    try {
      await this.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeoutSeconds }), { abortSignal: signal });
    } catch (e) {
      throw toDomainError(e, 'sqs:ChangeMessageVisibility');
    }
  }
}
