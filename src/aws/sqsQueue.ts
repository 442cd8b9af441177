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
  readonly visibilityTimeoutSeconds: number;
}

export async function readQueueSettings(sqs: Sqs, queueUrl: string, signal: AbortSignal): Promise<QueueSettings> {
  try {
    const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'] }), { abortSignal: signal });
    return {
      hasRedrivePolicy: Boolean(out.Attributes?.RedrivePolicy),
      visibilityTimeoutSeconds: Number(out.Attributes?.VisibilityTimeout ?? 30),
    };
  } catch (e) {
    throw toDomainError(e, 'sqs:GetQueueAttributes');
  }
}

/** The queue port over one SQS queue URL. */
export class SqsQueue implements QueuePort {
  constructor(private readonly sqs: Sqs, readonly queueUrl: string) {}

  async receive(request: { maxMessages: number; waitTimeSeconds: number; visibilityTimeoutSeconds: number }, signal: AbortSignal): Promise<QueueMessage[]> {
    try {
      const out = await this.sqs.send(new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: request.maxMessages,
        WaitTimeSeconds: request.waitTimeSeconds,
        VisibilityTimeout: request.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'SenderId'],
      }), { abortSignal: signal });
      return (out.Messages ?? []).flatMap((m) => (m.MessageId && m.ReceiptHandle ? [{
        messageId: m.MessageId,
        receiptHandle: m.ReceiptHandle,
        body: m.Body ?? '',
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
        sentAtMs: m.Attributes?.SentTimestamp ? Number(m.Attributes.SentTimestamp) : undefined,
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
