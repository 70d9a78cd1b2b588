import * as pulumi from '@pulumi/pulumi';

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: pulumi.Input<string>[];
  Principal?: Record<string, pulumi.Input<string> | pulumi.Input<string>[]>;
  Condition?: Record<string, Record<string, pulumi.Input<string> | pulumi.Input<string>[]>>;
}

/**
 * AWS actions that have no resource-level permissions, so a policy can only grant
 * them on "*". Nothing else may use a wildcard resource (the tests enforce it).
 */
export const RESOURCELESS_ACTIONS: readonly string[] = ['ecr:GetAuthorizationToken'];

export function policyDocument(statements: Statement[]): pulumi.Output<string> {
  return pulumi.jsonStringify({ Version: '2012-10-17', Statement: statements });
}

export function assumeRole(service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['sts:AssumeRole'], Principal: { Service: service } }],
  });
}
