import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SetQueueAttributesCommand,
  type SQSClient,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import type { QueueAdmin, QueueState, Tags } from '../enrollment/ports.js';
import { RequestRejectedError } from '../lifecycle/errors.js';
import { toAdminError } from './adminErrors.js';
import { awsErrorName } from './errors.js';

type Sqs = Pick<SQSClient, 'send'>;

const QUEUE_MISSING = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue']);

/** The SQS queue operations enroll, unenroll and doctor use. */
export class AwsQueueAdmin implements QueueAdmin {
  constructor(private readonly sqs: Sqs) {}

  async getQueue(name: string, signal: AbortSignal, options: { withTags?: boolean } = {}): Promise<QueueState | undefined> {
    let url: string | undefined;
    try {
      url = (await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }), { abortSignal: signal })).QueueUrl;
    } catch (e) {
      if (QUEUE_MISSING.has(awsErrorName(e))) return undefined;
      throw toAdminError(e, 'sqs:GetQueueUrl');
    }
    if (!url) return undefined;
    return this.describe(name, url, options.withTags ?? true, signal);
  }

  async createQueue(name: string, attributes: Readonly<Record<string, string>>, tags: Tags, signal: AbortSignal): Promise<QueueState> {
    let url: string | undefined;
    try {
      url = (await this.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { ...attributes }, tags: { ...tags } }), { abortSignal: signal })).QueueUrl;
    } catch (e) {
      throw toAdminError(e, 'sqs:CreateQueue');
    }
    const created = url ? await this.describe(name, url, true, signal) : undefined;
    if (!created) throw new RequestRejectedError('sqs:CreateQueue', `queue ${name} was not found right after it was created`);
    return created;
  }

  async setAttributes(url: string, attributes: Readonly<Record<string, string>>, signal: AbortSignal): Promise<void> {
    try {
      await this.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { ...attributes } }), { abortSignal: signal });
    } catch (e) {
      throw toAdminError(e, 'sqs:SetQueueAttributes');
    }
  }

  async tagQueue(url: string, tags: Tags, signal: AbortSignal): Promise<void> {
    try {
      await this.sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { ...tags } }), { abortSignal: signal });
    } catch (e) {
      throw toAdminError(e, 'sqs:TagQueue');
    }
  }

  async deleteQueue(url: string, signal: AbortSignal): Promise<'deleted' | 'gone'> {
    try {
      await this.sqs.send(new DeleteQueueCommand({ QueueUrl: url }), { abortSignal: signal });
      return 'deleted';
    } catch (e) {
      if (QUEUE_MISSING.has(awsErrorName(e))) return 'gone';
      throw toAdminError(e, 'sqs:DeleteQueue');
    }
  }

  private async describe(name: string, url: string, withTags: boolean, signal: AbortSignal): Promise<QueueState | undefined> {
    let attributes: Record<string, string>;
    try {
      attributes = (await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }), { abortSignal: signal })).Attributes ?? {};
    } catch (e) {
      if (QUEUE_MISSING.has(awsErrorName(e))) return undefined;
      throw toAdminError(e, 'sqs:GetQueueAttributes');
    }
    if (!withTags) return { name, url, arn: attributes['QueueArn'] ?? '', attributes, tags: {} };
    try {
      const tags = (await this.sqs.send(new ListQueueTagsCommand({ QueueUrl: url }), { abortSignal: signal })).Tags ?? {};
      return { name, url, arn: attributes['QueueArn'] ?? '', attributes, tags };
    } catch (e) {
      if (QUEUE_MISSING.has(awsErrorName(e))) return undefined;
      throw toAdminError(e, 'sqs:ListQueueTags');
    }
  }
}
