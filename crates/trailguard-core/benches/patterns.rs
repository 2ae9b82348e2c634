//! Per-event pattern matching cost for 10, 100 and 1,000 realistic rules (issue 3).
//!
//! Run with `bench/patterns.sh` (it runs this and prints the summary table), or
//! `cargo bench -p trailguard-core --bench patterns`.
//!
//! # The events
//!
//! Every event of `examples/leaked-admin-key` (a simulated incident: 507 events, 43
//! distinct (eventSource, eventName) pairs, mostly read-only calls by roles and an
//! IAM user, a few `RunInstances`/`CreateAccessKey`), in two forms:
//!
//! - the bare records of its `AWSLogs/**.json.gz` log files, parsed once into
//!   [`Event`]s outside the timed loop: the archive path. A bare event caches nothing
//!   that matching uses, so matching the same events again measures the real thing;
//! - the lines of `eventbridge.jsonl` (the same events in EventBridge envelopes). An
//!   envelope event splits its top level once, on first use, into a cache, so these are
//!   timed with a fresh [`Event::from_json`] per event per iteration: `parse` alone next
//!   to `parse` + matching, the difference being the matching share.
//!
//! Every timing is of one pass over all the events; criterion's per-element figure
//! (`Throughput::Elements`) is the per-event time.
//!
//! # The rules
//!
//! Generated deterministically (a fixed catalogue, a SplitMix64 shuffle with a fixed
//! seed; no network). The catalogue holds 1,188 distinct (eventSource, eventName)
//! pairs over 39 AWS services, built from each service's real API names and its
//! verbs x nouns, and includes every pair that occurs in the example data. Rule `i`
//! pins catalogue pair `i` of the shuffle, except for the pairs of the traffic, placed
//! in one of two layouts:
//!
//! - `Targets` (`index/{10,100,1000}`): every set starts with the same 7 detection
//!   targets the traffic meets (`CreateAccessKey`, `RunInstances`, `ConsoleLogin`,
//!   `GetSecretValue`, `GetCallerIdentity`, `UpdateAccessKey`, `TerminateInstances`),
//!   and the rest of each set pins calls this traffic does not make: a bigger pack
//!   adds rules for other calls, not for the routine reads of this account. The events
//!   that meet a rule are the same for the 10 and the 1,000, so the ratio shows what
//!   the rules that cannot match cost.
//! - `AllTraffic` (`index/all-traffic-{10,1000}`): all 43 pairs of the traffic spread
//!   evenly over the 1,000 positions (one in the first 10): the 1,000 meet nearly every
//!   event (also its routine reads) and the 10 almost none, so the ratio also counts
//!   the matches themselves. The worst case, reported next to the other.
//!
//! traffic. Rule `i`'s shape follows `i % 10` (its details `i / 10`; the rarest shapes
//! `i % 100`), so the 10 rules are the first 10 of the 100, which are the first 100 of
//! the 1,000, in the same proportions:
//!
//! | share | shape (every indexed rule also pins `source`; half pin `detail-type`) |
//! |---:|---|
//! | 20% | `detail.eventSource` + one `detail.eventName` |
//! | 10% | `eventSource` + two to four `eventName`s of the same service |
//! | 10% | + `userIdentity.type` exact (`IAMUser`/`Root`) or `anything-but` (`AWSService`, ...), or `accessKeyId` prefix `AKIA` |
//! | 10% | + `errorCode` `exists: false` / `exists: true` / exact codes |
//! | 10% | + `userAgent` prefix (`aws-cli/`, `Boto3/`) or wildcard (`*python-requests*`) |
//! | 10% | + `sourceIPAddress` cidr, or `anything-but` service principals / a prefix |
//! | 10% | + `requestParameters.*` exact (instance types, policy ARNs) or `numeric` (counts, durations) |
//! | 10% | + `$or` of two branches (a root/AKIA caller, or a failed call from outside a cidr) |
//! | 5% | `eventSource` only, `eventName` `prefix` of a verb that changes things (`Delete`, `Put`, `Create`, `Stop`, ...) |
//! | 4% | + `awsRegion` `anything-but` the account's regions |
//! | 1% | no exact string at all: `errorCode` prefix `AccessDenied`, suffix `UnauthorizedOperation`, `userIdentity.arn` suffix `:root` |
//!
//! Rounding: the first 10 rules hold one source + prefix rule (rule 9) and none of the
//! last two kinds; the first 100 hold 5, 4 and 1.
//!
//! `builtin` is the built-in rule pack (`rules/*.yml`), as `detect` runs it.
//!
//! # The benchmarks
//!
//! - `index/{10,100,1000}`, `builtin/pack`: bare records through a `PatternIndex`.
//! - `linear/1000`: each of the 1,000 patterns' `matches` in turn, which is the
//!   baseline the index is compared to.
//! - `envelope/parse`, `envelope/parse_match_{10,1000,builtin}`,
//!   `envelope/parse_read_eventName`: EventBridge lines, parsed fresh in every iteration.
//! - `parts/*` (subsets of the 1,000) and `read/*` (one field read): diagnostics that
//!   show where the time goes.
//!
//! Before timing, the bench prints each rule set's index layout and match counts. It
//! asserts that the index agrees with the linear scan, and it reports any event whose
//! bare record and envelope match different rules.

use std::collections::{BTreeSet, HashMap};
use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde::Deserialize;
use serde_json::{json, Value};
use trailguard_core::pattern::{Pattern, PatternIndex};
use trailguard_core::record::CloudTrailRecord;
use trailguard_core::{Event, FieldSource};

/// `"A B Verb1|Verb2:Noun1|Noun2"`: plain names, and verb x noun products.
const CATALOGUE: &[(&str, &str)] = &[
    ("iam", "CreateAccessKey DeleteAccessKey UpdateAccessKey ListAccessKeys GetAccessKeyLastUsed \
        GetAccountSummary GetAccountPasswordPolicy UpdateAccountPasswordPolicy DeleteAccountPasswordPolicy \
        GetUser ListUsers ListRoles ListPolicies ListAttachedUserPolicies AddUserToGroup RemoveUserFromGroup \
        CreatePolicyVersion SetDefaultPolicyVersion DeletePolicyVersion UpdateAssumeRolePolicy \
        DeactivateMFADevice EnableMFADevice CreateVirtualMFADevice DeleteVirtualMFADevice ResyncMFADevice \
        GetCredentialReport GenerateCredentialReport CreateServiceLinkedRole ListAccountAliases \
        CreateAccountAlias DeleteAccountAlias UploadSSHPublicKey UploadServerCertificate \
        CreateServiceSpecificCredential ResetServiceSpecificCredential SimulatePrincipalPolicy \
        AddRoleToInstanceProfile RemoveRoleFromInstanceProfile PutRolePermissionsBoundary \
        PutUserPermissionsBoundary DeleteRolePermissionsBoundary GetAccountAuthorizationDetails \
        Create|Delete|Get|Update|Tag|Untag:User|Role|Group|Policy|LoginProfile|InstanceProfile|SAMLProvider|OpenIDConnectProvider \
        List:Groups|MFADevices|InstanceProfiles|AttachedRolePolicies|AttachedGroupPolicies|UserPolicies|RolePolicies|GroupPolicies|SigningCertificates|ServiceSpecificCredentials|SSHPublicKeys|VirtualMFADevices|EntitiesForPolicy|GroupsForUser \
        Attach|Detach|Put|Delete|Get:UserPolicy|RolePolicy|GroupPolicy"),
    ("sts", "AssumeRole AssumeRoleWithSAML AssumeRoleWithWebIdentity GetCallerIdentity GetSessionToken \
        GetFederationToken DecodeAuthorizationMessage GetAccessKeyInfo AssumeRoot"),
    ("signin", "ConsoleLogin CheckMfa SwitchRole ExitRole RenewRole PasswordRecoveryRequested \
        PasswordRecoveryCompleted CredentialChallenge CredentialVerification GetSigninToken"),
    ("cloudtrail", "StopLogging StartLogging DescribeTrails GetTrailStatus LookupEvents ListTrails \
        GetTrail AddTags RemoveTags StartQuery CancelQuery \
        Create|Delete|Update|Get:Trail|EventDataStore|Channel \
        Get|Put:EventSelectors|InsightSelectors|ResourcePolicy"),
    ("s3", "ListBuckets GetBucketLocation CreateBucket DeleteBucket HeadBucket ListObjects ListObjectsV2 \
        GetObject PutObject DeleteObject DeleteObjects CopyObject PutObjectAcl GetObjectAcl \
        RestoreObject CreateMultipartUpload GetBucketAcl PutBucketAcl GetObjectTagging PutObjectTagging \
        Get|Put|Delete:BucketPolicy|BucketEncryption|BucketLogging|BucketPublicAccessBlock|BucketLifecycle|BucketReplication|BucketCors|BucketWebsite|BucketTagging|BucketOwnershipControls|BucketIntelligentTieringConfiguration|BucketInventoryConfiguration|BucketMetricsConfiguration|BucketAnalyticsConfiguration \
        Get|Put:BucketVersioning|BucketNotification|ObjectLockConfiguration|BucketAccelerateConfiguration|BucketRequestPayment|ObjectRetention|ObjectLegalHold"),
    ("ec2", "RunInstances StartInstances StopInstances TerminateInstances RebootInstances ImportKeyPair \
        AuthorizeSecurityGroupIngress AuthorizeSecurityGroupEgress RevokeSecurityGroupIngress \
        RevokeSecurityGroupEgress AllocateAddress AssociateAddress ReleaseAddress DisassociateAddress \
        RequestSpotInstances CancelSpotInstanceRequests RequestSpotFleet CopySnapshot CopyImage RegisterImage \
        DeregisterImage DisableEbsEncryptionByDefault EnableEbsEncryptionByDefault GetPasswordData \
        GetConsoleOutput GetConsoleScreenshot CreateImage AttachVolume DetachVolume \
        AssociateIamInstanceProfile ReplaceIamInstanceProfileAssociation SendSerialConsoleSSHPublicKey \
        GetEbsEncryptionByDefault CreateDefaultVpc SharedSnapshotCopyInitiated \
        Describe:Instances|InstanceStatus|Volumes|Snapshots|SecurityGroups|SecurityGroupRules|KeyPairs|Images|LaunchTemplates|LaunchTemplateVersions|Addresses|Vpcs|Subnets|RouteTables|NetworkInterfaces|InternetGateways|NatGateways|VpcEndpoints|FlowLogs|Regions|AvailabilityZones|AccountAttributes|SpotInstanceRequests|SpotPriceHistory|Hosts|ReservedInstances|TransitGateways|VpcPeeringConnections|InstanceTypes|InstanceTypeOfferings|Tags|SnapshotAttribute|ImageAttribute|InstanceAttribute|VolumesModifications|NetworkAcls|DhcpOptions|CustomerGateways|VpnConnections|PrefixLists \
        Create|Delete:SecurityGroup|KeyPair|Volume|Snapshot|LaunchTemplate|Vpc|Subnet|RouteTable|Route|NetworkInterface|InternetGateway|NatGateway|VpcEndpoints|FlowLogs|Tags|TransitGateway|VpcPeeringConnection|NetworkAcl|NetworkAclEntry|CustomerGateway|VpnConnection|DhcpOptions|PlacementGroup|TrafficMirrorSession|TrafficMirrorTarget \
        Modify:InstanceAttribute|SnapshotAttribute|ImageAttribute|VpcAttribute|SubnetAttribute|NetworkInterfaceAttribute|InstanceMetadataOptions|LaunchTemplate|SecurityGroupRules|EbsDefaultKmsKeyId|Volume|VpcEndpoint|InstancePlacement"),
    ("kms", "Decrypt Encrypt GenerateDataKey GenerateDataKeyWithoutPlaintext ReEncrypt CreateKey DescribeKey \
        ListKeys ListAliases CreateAlias DeleteAlias UpdateAlias ScheduleKeyDeletion CancelKeyDeletion \
        DisableKey EnableKey RotateKey EnableKeyRotation DisableKeyRotation GetKeyPolicy PutKeyPolicy \
        CreateGrant RevokeGrant RetireGrant ListGrants GetKeyRotationStatus ImportKeyMaterial \
        DeleteImportedKeyMaterial Sign Verify GetPublicKey TagResource UntagResource ReplicateKey \
        RotateKeyOnDemand GenerateRandom ListKeyPolicies"),
    ("secretsmanager", "GetSecretValue PutSecretValue CreateSecret DeleteSecret RestoreSecret UpdateSecret \
        DescribeSecret ListSecrets RotateSecret CancelRotateSecret GetResourcePolicy PutResourcePolicy \
        DeleteResourcePolicy BatchGetSecretValue ReplicateSecretToRegions RemoveRegionsFromReplication \
        TagResource UntagResource ListSecretVersionIds GetRandomPassword UpdateSecretVersionStage \
        ValidateResourcePolicy StopReplicationToReplica"),
    ("ssm", "GetParameter GetParameters GetParametersByPath PutParameter DeleteParameter DeleteParameters \
        DescribeParameters GetParameterHistory LabelParameterVersion SendCommand StartSession ResumeSession \
        TerminateSession GetCommandInvocation ListCommands ListCommandInvocations DescribeInstanceInformation \
        CreateDocument DeleteDocument UpdateDocument GetDocument ListDocuments DescribeDocument \
        CreateAssociation DeleteAssociation ListAssociations DescribeSessions ModifyDocumentPermission \
        StartAutomationExecution DescribeAutomationExecutions GetInventory UpdateServiceSetting \
        GetServiceSetting ResetServiceSetting CreateActivation DeleteActivation"),
    ("lambda", "ListFunctions20150331 CreateFunction20150331 DeleteFunction20150331 GetFunction20150331v2 \
        GetFunctionConfiguration20150331v2 UpdateFunctionCode20150331v2 \
        UpdateFunctionConfiguration20150331v2 AddPermission20150331v2 RemovePermission20150331v2 \
        GetPolicy20150331v2 CreateEventSourceMapping20150331 DeleteEventSourceMapping20150331 \
        UpdateEventSourceMapping20150331 ListEventSourceMappings20150331 PublishLayerVersion20181031 \
        GetLayerVersion20181031 AddLayerVersionPermission20181031 RemoveLayerVersionPermission20181031 \
        CreateFunctionUrlConfig20211031 UpdateFunctionUrlConfig20211031 GetFunctionUrlConfig20211031 \
        DeleteFunctionUrlConfig20211031 ListLayers20181031 PublishVersion20150331 CreateAlias20150331 \
        UpdateAlias20150331 ListAliases20150331 PutFunctionConcurrency20171031 \
        GetAccountSettings20160819 ListTags20170331 TagResource20170331v2"),
    ("cloudformation", "DescribeStacks DescribeStackEvents DescribeStackResources DescribeStackResource \
        GetTemplateSummary GetTemplate ListStacks ListStackResources ExecuteChangeSet ValidateTemplate \
        SetStackPolicy GetStackPolicy CancelUpdateStack ContinueUpdateRollback DetectStackDrift ListExports \
        ListImports ListStackSets ListChangeSets DescribeChangeSet DescribeStackSet ListStackInstances \
        CreateStackInstances DeleteStackInstances UpdateStackInstances ActivateType RegisterType \
        Create|Delete|Update:Stack|StackSet \
        Create|Delete:ChangeSet"),
    ("monitoring", "GetMetricData GetMetricStatistics ListMetrics PutMetricData PutMetricAlarm DeleteAlarms \
        DescribeAlarms DisableAlarmActions EnableAlarmActions SetAlarmState PutDashboard DeleteDashboards \
        GetDashboard ListDashboards DescribeAlarmHistory PutCompositeAlarm PutAnomalyDetector \
        DeleteAnomalyDetector DescribeAnomalyDetectors PutMetricStream DeleteMetricStream \
        StartMetricStreams StopMetricStreams TagResource UntagResource DescribeAlarmsForMetric"),
    ("logs", "CreateLogGroup DeleteLogGroup DescribeLogGroups CreateLogStream DeleteLogStream \
        DescribeLogStreams PutRetentionPolicy DeleteRetentionPolicy PutSubscriptionFilter \
        DeleteSubscriptionFilter DescribeSubscriptionFilters PutMetricFilter DeleteMetricFilter \
        DescribeMetricFilters FilterLogEvents GetLogEvents StartQuery StopQuery GetQueryResults \
        PutResourcePolicy DeleteResourcePolicy DescribeResourcePolicies AssociateKmsKey DisassociateKmsKey \
        CreateExportTask PutDestination DeleteDestination PutDestinationPolicy TagLogGroup UntagLogGroup \
        PutDataProtectionPolicy DeleteDataProtectionPolicy StartLiveTail PutAccountPolicy DeleteAccountPolicy"),
    ("ecr", "GetAuthorizationToken DescribeRepositories DescribeImages BatchCheckLayerAvailability \
        BatchGetImage GetDownloadUrlForLayer PutImage InitiateLayerUpload UploadLayerPart \
        CompleteLayerUpload CreateRepository DeleteRepository SetRepositoryPolicy GetRepositoryPolicy \
        DeleteRepositoryPolicy PutLifecyclePolicy DeleteLifecyclePolicy GetLifecyclePolicy ListImages \
        BatchDeleteImage PutImageScanningConfiguration PutImageTagMutability StartImageScan \
        DescribeImageScanFindings PutRegistryPolicy DeleteRegistryPolicy PutReplicationConfiguration \
        DescribeRegistry CreatePullThroughCacheRule"),
    ("guardduty", "DisassociateFromMasterAccount DisassociateFromAdministratorAccount StopMonitoringMembers \
        StartMonitoringMembers ArchiveFindings UnarchiveFindings GetFindings ListFindings AcceptInvitation \
        AcceptAdministratorInvitation DisassociateMembers DeleteMembers CreateMembers InviteMembers \
        UpdateOrganizationConfiguration EnableOrganizationAdminAccount DisableOrganizationAdminAccount \
        CreateSampleFindings UpdateMalwareScanSettings \
        Create|Delete|Update|Get|List:Detector|Filter|IPSet|ThreatIntelSet|PublishingDestination"),
    ("config", "PutConfigurationRecorder DeleteConfigurationRecorder StopConfigurationRecorder \
        StartConfigurationRecorder PutDeliveryChannel DeleteDeliveryChannel DescribeConfigurationRecorders \
        DescribeConfigurationRecorderStatus DescribeDeliveryChannels PutConfigRule DeleteConfigRule \
        DescribeConfigRules PutConformancePack DeleteConformancePack DeleteEvaluationResults \
        SelectResourceConfig GetResourceConfigHistory PutAggregationAuthorization \
        DeleteAggregationAuthorization PutRetentionConfiguration DeleteRetentionConfiguration \
        PutRemediationConfigurations DeleteRemediationConfiguration StartConfigRulesEvaluation"),
    ("organizations", "LeaveOrganization RemoveAccountFromOrganization CreateAccount CloseAccount \
        InviteAccountToOrganization DescribeOrganization ListAccounts ListRoots ListPolicies CreatePolicy \
        DeletePolicy UpdatePolicy AttachPolicy DetachPolicy EnablePolicyType DisablePolicyType MoveAccount \
        CreateOrganizationalUnit DeleteOrganizationalUnit UpdateOrganizationalUnit \
        ListOrganizationalUnitsForParent EnableAWSServiceAccess DisableAWSServiceAccess \
        RegisterDelegatedAdministrator DeregisterDelegatedAdministrator DescribeAccount DeleteOrganization \
        CreateOrganization AcceptHandshake DeclineHandshake ListHandshakesForAccount"),
    ("rds", "RestoreDBInstanceFromDBSnapshot RestoreDBClusterFromSnapshot RestoreDBInstanceToPointInTime \
        ModifyDBSnapshotAttribute ModifyDBClusterSnapshotAttribute CopyDBSnapshot CopyDBClusterSnapshot \
        StartDBInstance StopDBInstance RebootDBInstance StartDBCluster StopDBCluster StartExportTask \
        AddRoleToDBCluster RemoveRoleFromDBCluster AddRoleToDBInstance DescribeDBLogFiles \
        DownloadDBLogFilePortion DescribeDBSnapshotAttributes \
        Create|Delete|Modify:DBInstance|DBCluster|DBParameterGroup|DBSubnetGroup|OptionGroup|EventSubscription|DBProxy|GlobalCluster \
        Create|Delete:DBSnapshot|DBClusterSnapshot \
        Describe:DBInstances|DBClusters|DBSnapshots|DBClusterSnapshots|DBParameterGroups|DBSubnetGroups|OptionGroups|EventSubscriptions|DBProxies|GlobalClusters|Events|Certificates"),
    ("dynamodb", "ListTables ListBackups RestoreTableFromBackup RestoreTableToPointInTime \
        UpdateContinuousBackups ExportTableToPointInTime DescribeContinuousBackups UpdateTimeToLive \
        DescribeTimeToLive TagResource UntagResource ListTagsOfResource PutResourcePolicy \
        DeleteResourcePolicy GetResourcePolicy DescribeExport ListExports ImportTable \
        Create|Delete|Update|Describe:Table|Backup|GlobalTable"),
    ("sns", "CreateTopic DeleteTopic Subscribe Unsubscribe Publish SetTopicAttributes GetTopicAttributes \
        ListTopics ListSubscriptions ListSubscriptionsByTopic AddPermission RemovePermission \
        ConfirmSubscription SetSubscriptionAttributes GetSubscriptionAttributes CreatePlatformApplication \
        DeletePlatformApplication SetSMSAttributes GetSMSAttributes CheckIfPhoneNumberIsOptedOut \
        PublishBatch CreateSMSSandboxPhoneNumber GetSMSSandboxAccountStatus PutDataProtectionPolicy"),
    ("sqs", "CreateQueue DeleteQueue PurgeQueue SetQueueAttributes GetQueueAttributes ListQueues GetQueueUrl \
        AddPermission RemovePermission TagQueue UntagQueue ListQueueTags ListDeadLetterSourceQueues \
        StartMessageMoveTask CancelMessageMoveTask ListMessageMoveTasks"),
    ("route53", "CreateHostedZone DeleteHostedZone ChangeResourceRecordSets ListHostedZones \
        ListResourceRecordSets GetHostedZone CreateHealthCheck DeleteHealthCheck UpdateHealthCheck \
        ChangeTagsForResource AssociateVPCWithHostedZone DisassociateVPCFromHostedZone \
        CreateQueryLoggingConfig DeleteQueryLoggingConfig EnableHostedZoneDNSSEC DisableHostedZoneDNSSEC \
        CreateTrafficPolicy GetChange ListHealthChecks UpdateHostedZoneComment CreateKeySigningKey"),
    ("ses", "VerifyEmailIdentity VerifyDomainIdentity DeleteIdentity ListIdentities GetSendQuota \
        GetSendStatistics UpdateAccountSendingEnabled PutAccountSendingAttributes GetAccount \
        CreateEmailIdentity DeleteEmailIdentity ListEmailIdentities PutAccountDetails \
        CreateConfigurationSet DeleteConfigurationSet GetIdentityVerificationAttributes \
        SetIdentityNotificationTopic ListConfigurationSets GetEmailIdentity \
        PutEmailIdentityDkimAttributes CreateReceiptRule DeleteReceiptRule"),
    ("eks", "CreateCluster DeleteCluster DescribeCluster ListClusters UpdateClusterConfig UpdateClusterVersion \
        CreateNodegroup DeleteNodegroup DescribeNodegroup ListNodegroups CreateAccessEntry DeleteAccessEntry \
        AssociateAccessPolicy DisassociateAccessPolicy CreateFargateProfile DeleteFargateProfile \
        UpdateNodegroupConfig AssociateIdentityProviderConfig ListAccessEntries DescribeAccessEntry \
        CreateAddon DeleteAddon UpdateAddon CreatePodIdentityAssociation"),
    ("ecs", "CreateCluster DeleteCluster DescribeClusters ListClusters RegisterTaskDefinition \
        DeregisterTaskDefinition DescribeTaskDefinition ListTaskDefinitions RunTask StartTask StopTask \
        CreateService DeleteService UpdateService DescribeServices ListServices ExecuteCommand ListTasks \
        DescribeTasks PutAccountSetting UpdateContainerAgent RegisterContainerInstance \
        DeregisterContainerInstance CreateCapacityProvider"),
    ("sso", "CreatePermissionSet DeletePermissionSet UpdatePermissionSet DescribePermissionSet \
        ListPermissionSets CreateAccountAssignment DeleteAccountAssignment ListAccountAssignments \
        AttachManagedPolicyToPermissionSet DetachManagedPolicyFromPermissionSet \
        PutInlinePolicyToPermissionSet DeleteInlinePolicyFromPermissionSet ProvisionPermissionSet \
        CreateInstanceAccessControlAttributeConfiguration AttachCustomerManagedPolicyReferenceToPermissionSet \
        PutPermissionsBoundaryToPermissionSet"),
    ("securityhub", "BatchUpdateFindings DisableSecurityHub EnableSecurityHub DeleteInsight CreateInsight \
        UpdateStandardsControl BatchDisableStandards BatchEnableStandards GetFindings \
        DisableImportFindingsForProduct DeleteActionTarget UpdateFindings DescribeHub ListMembers \
        DisassociateFromAdministratorAccount DeleteMembers UpdateSecurityHubConfiguration \
        CreateAutomationRule BatchDeleteAutomationRules"),
    ("bedrock", "InvokeModel InvokeModelWithResponseStream Converse ConverseStream ListFoundationModels \
        GetFoundationModelAvailability PutUseCaseForModelAccess GetUseCaseForModelAccess \
        GetModelInvocationLoggingConfiguration PutModelInvocationLoggingConfiguration \
        DeleteModelInvocationLoggingConfiguration ListInferenceProfiles CreateFoundationModelAgreement \
        ListFoundationModelAgreementOffers CreateProvisionedModelThroughput CreateModelCustomizationJob \
        CreateGuardrail DeleteGuardrail"),
    ("autoscaling", "CreateAutoScalingGroup DeleteAutoScalingGroup UpdateAutoScalingGroup \
        DescribeAutoScalingGroups CreateLaunchConfiguration DeleteLaunchConfiguration \
        DescribeLaunchConfigurations SetDesiredCapacity PutScalingPolicy DeletePolicy SuspendProcesses \
        ResumeProcesses AttachInstances DetachInstances TerminateInstanceInAutoScalingGroup \
        DescribeScalingActivities PutLifecycleHook DeleteLifecycleHook"),
    ("elasticloadbalancing", "CreateLoadBalancer DeleteLoadBalancer DescribeLoadBalancers CreateListener \
        DeleteListener ModifyListener DescribeListeners CreateTargetGroup DeleteTargetGroup ModifyTargetGroup \
        RegisterTargets DeregisterTargets ModifyLoadBalancerAttributes DescribeTargetGroups \
        DescribeTargetHealth CreateRule DeleteRule ModifyRule SetSecurityGroups SetSubnets AddTags"),
    ("backup", "DeleteBackupVault DeleteRecoveryPoint DeleteBackupPlan CreateBackupPlan UpdateBackupPlan \
        CreateBackupVault PutBackupVaultAccessPolicy DeleteBackupVaultAccessPolicy \
        PutBackupVaultLockConfiguration DeleteBackupVaultLockConfiguration StartBackupJob StartRestoreJob \
        ListBackupVaults ListRecoveryPointsByBackupVault DisassociateRecoveryPoint UpdateRecoveryPointLifecycle \
        DeleteBackupSelection CreateBackupSelection"),
    ("athena", "StartQueryExecution GetQueryExecution GetQueryResults StopQueryExecution CreateWorkGroup \
        DeleteWorkGroup UpdateWorkGroup ListWorkGroups GetWorkGroup CreateDataCatalog DeleteDataCatalog \
        ListQueryExecutions CreateNamedQuery DeleteNamedQuery ListDatabases ListTableMetadata"),
    ("glue", "CreateDatabase DeleteDatabase GetDatabases CreateTable DeleteTable GetTables UpdateTable \
        CreateCrawler DeleteCrawler StartCrawler CreateJob DeleteJob UpdateJob StartJobRun GetJobs \
        CreateDevEndpoint DeleteDevEndpoint UpdateDevEndpoint PutResourcePolicy DeleteResourcePolicy \
        GetConnections CreateConnection DeleteConnection GetConnection CreateSession"),
    ("redshift", "CreateCluster DeleteCluster ModifyCluster DescribeClusters CreateClusterSnapshot \
        DeleteClusterSnapshot AuthorizeSnapshotAccess RevokeSnapshotAccess ModifyClusterIamRoles \
        RestoreFromClusterSnapshot DisableLogging EnableLogging GetClusterCredentials \
        ModifyClusterParameterGroup AuthorizeClusterSecurityGroupIngress DescribeLoggingStatus ModifyClusterSnapshot PauseCluster ResumeCluster"),
    ("servicequotas", "GetServiceQuota ListServiceQuotas RequestServiceQuotaIncrease \
        ListRequestedServiceQuotaChangeHistory GetAWSDefaultServiceQuota ListServices \
        PutServiceQuotaIncreaseRequestIntoTemplate"),
    ("account", "GetContactInformation PutContactInformation PutAlternateContact DeleteAlternateContact \
        GetAlternateContact EnableRegion DisableRegion ListRegions GetRegionOptStatus \
        GetPrimaryEmail StartPrimaryEmailUpdate AcceptPrimaryEmailUpdate"),
    ("support", "CreateCase DescribeCases AddCommunicationToCase DescribeTrustedAdvisorChecks ResolveCase \
        DescribeServices DescribeSeverityLevels DescribeCommunications"),
    ("cognito-idp", "AdminCreateUser AdminDeleteUser AdminSetUserPassword AdminAddUserToGroup \
        AdminInitiateAuth CreateUserPool DeleteUserPool UpdateUserPool CreateUserPoolClient \
        DeleteUserPoolClient UpdateUserPoolClient ListUsers ListUserPools AdminDisableUser AdminEnableUser \
        AdminUpdateUserAttributes AdminRemoveUserFromGroup AdminResetUserPassword SetUserPoolMfaConfig \
        CreateIdentityProvider DeleteIdentityProvider"),
    ("apigateway", "CreateRestApi DeleteRestApi UpdateRestApi GetRestApis CreateDeployment CreateStage \
        DeleteStage UpdateStage CreateApiKey DeleteApiKey GetApiKeys GetApiKey CreateUsagePlan PutMethod \
        PutIntegration CreateAuthorizer DeleteAuthorizer UpdateAuthorizer CreateDomainName ImportRestApi"),
];

/// The (eventSource, eventName) pairs of the example data, most telling first: they
/// are spread evenly over the rules, in this order (so the first 10 rules hold the first).
const SEEN: &[(&str, &str)] = &[
    ("iam", "CreateAccessKey"),
    ("ec2", "RunInstances"),
    ("signin", "ConsoleLogin"),
    ("secretsmanager", "GetSecretValue"),
    ("sts", "GetCallerIdentity"),
    ("iam", "UpdateAccessKey"),
    ("ec2", "TerminateInstances"),
    ("iam", "ListAccessKeys"),
    ("s3", "GetBucketPolicy"),
    ("iam", "ListAttachedUserPolicies"),
    ("iam", "GetAccountSummary"),
    ("ssm", "GetParameter"),
    ("s3", "ListBuckets"),
    ("iam", "ListUsers"),
    ("iam", "ListRoles"),
    ("iam", "ListPolicies"),
    ("iam", "GetUser"),
    ("iam", "GetAccountPasswordPolicy"),
    ("ec2", "DescribeInstances"),
    ("ec2", "DescribeSecurityGroups"),
    ("ec2", "DescribeAddresses"),
    ("ec2", "DescribeVolumes"),
    ("ec2", "DescribeLaunchTemplates"),
    ("ec2", "DescribeInstanceStatus"),
    ("s3", "GetBucketPublicAccessBlock"),
    ("s3", "GetBucketVersioning"),
    ("s3", "GetBucketEncryption"),
    ("s3", "GetBucketLocation"),
    ("sts", "AssumeRole"),
    ("kms", "Decrypt"),
    ("kms", "GenerateDataKey"),
    ("kms", "RotateKey"),
    ("lambda", "ListFunctions20150331"),
    ("logs", "DescribeLogGroups"),
    ("monitoring", "GetMetricData"),
    ("ecr", "GetAuthorizationToken"),
    ("ecr", "DescribeRepositories"),
    ("ecr", "DescribeImages"),
    ("ecr", "BatchCheckLayerAvailability"),
    ("cloudformation", "DescribeStacks"),
    ("cloudformation", "DescribeStackEvents"),
    ("cloudformation", "GetTemplateSummary"),
    ("cloudformation", "ListStacks"),
];

/// Prefixes of the source-only rules when the pair's own verb only reads.
const WRITE_VERBS: &[&str] = &["Delete", "Put", "Create", "Update", "Stop", "Disable"];
const SEED: u64 = 0x7472_6169_6c67_7561; // "trailgua"

/// SplitMix64: a fixed, dependency-free sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// (service, eventName) pairs.
type Pairs = Vec<(&'static str, String)>;

/// `n & 1 == 0`, spelt so for the workspace's rust-version (no `is_multiple_of`).
fn even(n: usize) -> bool {
    n & 1 == 0
}

/// Every (service, eventName) of the catalogue, services in order, names deduplicated.
fn catalogue() -> Pairs {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (service, spec) in CATALOGUE {
        for token in spec.split_whitespace() {
            let names: Vec<String> = match token.split_once(':') {
                None => vec![token.to_owned()],
                Some((verbs, nouns)) => verbs
                    .split('|')
                    .flat_map(|v| nouns.split('|').map(move |n| format!("{v}{n}")))
                    .collect(),
            };
            for name in names {
                if seen.insert((*service, name.clone())) {
                    out.push((*service, name));
                }
            }
        }
    }
    out
}

fn event_source(service: &str) -> String {
    format!("{service}.amazonaws.com")
}

/// The EventBridge `source` of a service's CloudTrail events: `aws.` + the service,
/// except CloudWatch (`monitoring.amazonaws.com` arrives as `aws.cloudwatch`, as in the
/// example's `eventbridge.jsonl`).
fn eventbridge_source(service: &str) -> String {
    match service {
        "monitoring" => "aws.cloudwatch".into(),
        s => format!("aws.{s}"),
    }
}

/// The leading verb of an API name: `DescribeInstances` -> `Describe`.
fn verb(name: &str) -> &str {
    let end = name
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_ascii_uppercase())
        .map_or(name.len(), |(i, _)| i);
    &name[..end]
}

/// Where the pairs of the traffic go among the rules.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// Every set holds the same detection targets met by the traffic (the first
    /// [`TARGETS`] pairs of [`SEEN`]: the calls worth an alert) in its first rules, and
    /// the rest pins other API calls: a bigger pack adds rules for calls this traffic
    /// does not make, as real packs do.
    Targets,
    /// All 43 pairs of the traffic spread over the 1,000 (one in the first 10): the
    /// 1,000 meet nearly every event, the 10 almost none. The worst case for the ratio.
    AllTraffic,
}

/// The pairs of [`SEEN`] that detection rules target (writes, sign-ins, secret reads).
const TARGETS: usize = 7;

/// The catalogue pair each of the first `n` rules pins (see the module docs).
fn rule_pairs(n: usize, layout: Layout) -> (Pairs, Pairs) {
    let all = catalogue();
    for (s, name) in SEEN {
        assert!(
            all.iter().any(|(cs, cn)| cs == s && cn == name),
            "catalogue lacks {s}:{name}"
        );
    }
    let mut rest: Vec<_> = all
        .iter()
        .filter(|(s, n)| !SEEN.iter().any(|(ss, sn)| ss == s && sn == n))
        .cloned()
        .collect();
    let mut rng = Rng(SEED);
    for i in (1..rest.len()).rev() {
        let j = rng.below(i + 1);
        rest.swap(i, j);
    }
    let total = 1000;
    let mut seen_at = HashMap::new();
    match layout {
        Layout::Targets => {
            for k in 0..TARGETS {
                seen_at.insert(k, k);
            }
        }
        Layout::AllTraffic => {
            for k in 0..SEEN.len() {
                let at = k * total / SEEN.len() + 2;
                // Not on a slot of the rules that pin no eventName (`i % 10 == 9`).
                seen_at.insert(if at % 10 == 9 { at - 1 } else { at }, k);
            }
        }
    }
    let mut rest = rest.into_iter();
    let pairs = (0..n)
        .map(|i| match seen_at.get(&i) {
            Some(&k) => (SEEN[k].0, SEEN[k].1.to_owned()),
            None => rest.next().expect("catalogue has 1000 pairs"),
        })
        .collect();
    // In `Targets`, a multi-name rule's extra names stay clear of the routine calls.
    let all = match layout {
        Layout::Targets => all
            .into_iter()
            .filter(|(s, n)| !SEEN[TARGETS..].iter().any(|(ss, sn)| ss == s && sn == n))
            .collect(),
        Layout::AllTraffic => all,
    };
    (pairs, all)
}

/// `n` rules; the first `m` of `rules(n)` are `rules(m)`.
fn rules(n: usize, layout: Layout) -> Vec<Value> {
    let (pairs, all) = rule_pairs(n, layout);
    pairs
        .iter()
        .enumerate()
        .map(|(i, (service, name))| rule(i, service, name, &all))
        .collect()
}

fn rule(i: usize, service: &str, name: &str, all: &[(&'static str, String)]) -> Value {
    let v = i / 10; // varies the details within a shape
    let source = event_source(service);
    if i % 100 == 99 {
        // No exact string anywhere: checked against every event.
        return match (i / 100) % 3 {
            0 => json!({"detail": {"errorCode": [{"prefix": "AccessDenied"}]}}),
            1 => json!({"detail": {"errorCode": [{"suffix": "UnauthorizedOperation"}]}}),
            _ => json!({"detail": {"userIdentity": {"arn": [{"suffix": ":root"}]}}}),
        };
    }
    let mut detail = serde_json::Map::new();
    detail.insert("eventSource".into(), json!([source]));
    detail.insert("eventName".into(), json!([name]));
    match i % 10 {
        0 | 5 => {}
        1 => {
            let identity = match v % 4 {
                0 => json!({"type": ["IAMUser"]}),
                1 => json!({"type": [{"anything-but": ["AWSService", "AWSAccount"]}]}),
                2 => json!({"type": ["Root"]}),
                _ => json!({"type": ["IAMUser"], "accessKeyId": [{"prefix": "AKIA"}]}),
            };
            detail.insert("userIdentity".into(), identity);
        }
        2 => {
            // A few names of the same service: this one and its catalogue neighbours.
            let same: Vec<&String> = all
                .iter()
                .filter(|(s, _)| *s == service)
                .map(|(_, n)| n)
                .collect();
            let at = same.iter().position(|n| *n == name).unwrap_or(0);
            let names: Vec<&String> = (0..2 + v % 3)
                .map(|k| same[(at + k) % same.len()])
                .collect();
            detail.insert("eventName".into(), json!(names));
        }
        3 => {
            let error = match v % 3 {
                0 => json!([{"exists": false}]),
                1 => json!([{"exists": true}]),
                _ => json!(["AccessDenied", "Client.UnauthorizedOperation"]),
            };
            detail.insert("errorCode".into(), error);
        }
        4 => {
            let agent = match v % 3 {
                0 => json!([{"prefix": "aws-cli/"}]),
                1 => json!([{"prefix": "Boto3/"}, {"prefix": "aws-sdk-go"}]),
                _ => json!([{"wildcard": "*python-requests*"}]),
            };
            detail.insert("userAgent".into(), agent);
        }
        6 => {
            let ip = match v % 3 {
                0 => json!([{"cidr": "198.51.100.0/24"}, {"cidr": "203.0.113.0/24"}]),
                1 => json!([{"anything-but": [
                    "cloudformation.amazonaws.com", "autoscaling.amazonaws.com", "AWS Internal"
                ]}]),
                _ => json!([{"anything-but": {"prefix": "10."}}]),
            };
            detail.insert("sourceIPAddress".into(), ip);
        }
        7 => {
            let params = match v % 4 {
                0 => json!({"instanceType": ["p4d.24xlarge", "p3.16xlarge", "g5.48xlarge"]}),
                1 => json!({"maxCount": [{"numeric": [">=", 10]}]}),
                2 => json!({"policyArn": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
                _ => json!({"durationSeconds": [{"numeric": [">", 3600, "<=", 43200]}]}),
            };
            detail.insert("requestParameters".into(), params);
        }
        8 => {
            let branches = match v % 2 {
                0 => json!([
                    {"userIdentity": {"type": ["Root"]}},
                    {"userIdentity": {"accessKeyId": [{"prefix": "AKIA"}]}}
                ]),
                _ => json!([
                    {"errorCode": [{"exists": true}]},
                    {"sourceIPAddress": [{"anything-but": {"prefix": "10."}}]}
                ]),
            };
            detail.insert("$or".into(), branches);
        }
        _ if even(v) => {
            // Only the service, and a verb that changes things (`Delete*` on CloudTrail).
            let verb = match verb(name) {
                "Describe" | "List" | "Get" | "Lookup" | "Head" | "Batch" => {
                    WRITE_VERBS[(v / 2) % WRITE_VERBS.len()]
                }
                other => other,
            };
            detail.insert("eventName".into(), json!([{"prefix": verb}]));
        }
        _ => {
            // A call from a region the account does not use.
            detail.insert(
                "awsRegion".into(),
                json!([{"anything-but": ["us-east-1", "eu-west-1"]}]),
            );
        }
    }
    let mut pattern = serde_json::Map::new();
    pattern.insert("source".into(), json!([eventbridge_source(service)]));
    if even(v) {
        let detail_type = if service == "signin" {
            "AWS Console Sign In via CloudTrail"
        } else {
            "AWS API Call via CloudTrail"
        };
        pattern.insert("detail-type".into(), json!([detail_type]));
    }
    pattern.insert("detail".into(), Value::Object(detail));
    Value::Object(pattern)
}

fn compile(values: &[Value]) -> Vec<Pattern> {
    values
        .iter()
        .map(|v| Pattern::from_value(v).unwrap_or_else(|e| panic!("{e}: {v}")))
        .collect()
}

#[derive(Deserialize)]
struct LogFile<'a> {
    #[serde(borrow, rename = "Records")]
    records: Vec<CloudTrailRecord<'a>>,
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leaked-admin-key")
}

/// The decompressed text of every CloudTrail log file (not digests), in path order.
fn log_files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "CloudTrail-Digest") {
                    walk(&p, out);
                }
            } else if p.to_string_lossy().ends_with(".json.gz") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&dir.join("AWSLogs"), &mut paths);
    paths
        .iter()
        .map(|p| {
            let file = std::fs::File::open(p).expect("log file");
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(file)
                .read_to_string(&mut text)
                .expect("gzipped UTF-8");
            text
        })
        .collect()
}

fn key(event: &Event<'_>) -> String {
    event.event_id().unwrap_or_default().to_owned()
}

/// One pass over `events` through `index`; the number of matches.
fn match_all(events: &[Event<'_>], index: &PatternIndex, out: &mut Vec<usize>) -> usize {
    let mut hits = 0;
    for ev in events {
        out.clear();
        index.matches_into(ev, out);
        hits += out.len();
    }
    hits
}

/// Prints what is measured, and checks that the index, the linear scan and both event
/// forms agree (a disagreement between the forms is reported, not hidden).
fn report_sets(
    bare: &[Event<'_>],
    lines: &[&str],
    files: usize,
    catalogue: usize,
    sets: &[(String, PatternIndex, Vec<Pattern>)],
) {
    eprintln!(
        "patterns bench: {} bare records from {files} log files, {} EventBridge lines; \
         catalogue of {catalogue} (eventSource, eventName) pairs",
        bare.len(),
        lines.len(),
    );
    let wrapped: Vec<Event<'_>> = lines
        .iter()
        .map(|l| Event::from_json(l.as_bytes()).expect("an EventBridge event"))
        .collect();
    let wrapped_by_id: HashMap<String, &Event<'_>> = wrapped.iter().map(|e| (key(e), e)).collect();
    for (name, index, patterns) in sets {
        let (mut events_hit, mut hits, mut disagree) = (0, 0, 0);
        for ev in bare {
            let got = index.matching(ev);
            let linear: Vec<usize> = (0..patterns.len())
                .filter(|&i| patterns[i].matches(ev))
                .collect();
            assert_eq!(got, linear, "index and linear scan disagree ({name})");
            if let Some(w) = wrapped_by_id.get(&key(ev)) {
                let enveloped = index.matching(*w);
                if enveloped != got {
                    disagree += 1;
                    if disagree <= 2 {
                        eprintln!(
                            "    {name}: {} {} {}: bare matches {got:?}, envelope {enveloped:?}",
                            ev.event_source().unwrap_or("?"),
                            ev.event_name().unwrap_or("?"),
                            key(ev),
                        );
                    }
                }
            }
            events_hit += usize::from(!got.is_empty());
            hits += got.len();
        }
        let s = index.stats();
        eprintln!(
            "  {name:>28}: {} patterns, {} conjuncts, {} unindexed, key paths {:?}; \
             {events_hit} of {} events match ({hits} matches); bare/envelope disagreements: {disagree}",
            s.patterns,
            s.conjuncts,
            s.unindexed,
            s.key_paths,
            bare.len()
        );
    }
}

fn benches(c: &mut Criterion) {
    let dir = example_dir();
    let files = log_files(&dir);
    let bare: Vec<Event<'_>> = files
        .iter()
        .flat_map(|text| {
            let file: LogFile<'_> = serde_json::from_str(text).expect("a CloudTrail log file");
            file.records.into_iter().map(Event::from_record)
        })
        .collect();
    let jsonl = std::fs::read_to_string(dir.join("eventbridge.jsonl")).expect("eventbridge.jsonl");
    let lines: Vec<&str> = jsonl.lines().filter(|l| !l.trim().is_empty()).collect();

    let catalogue = catalogue();
    assert!(catalogue.len() >= 1000, "catalogue: {}", catalogue.len());
    for ev in &bare {
        let (s, n) = (
            ev.event_source().unwrap_or(""),
            ev.event_name().unwrap_or(""),
        );
        assert!(
            catalogue
                .iter()
                .any(|(cs, cn)| event_source(cs) == s && cn == n),
            "the catalogue lacks {s} {n}"
        );
    }
    let all = rules(1000, Layout::Targets);
    assert_eq!(
        rules(10, Layout::Targets)[..],
        all[..10],
        "the 10 rules are the first of the 1000"
    );
    let subset = |keep: &dyn Fn(usize) -> bool| -> Vec<Pattern> {
        let picked: Vec<Value> = (0..all.len())
            .filter(|&i| keep(i))
            .map(|i| all[i].clone())
            .collect();
        compile(&picked)
    };
    let all_traffic = rules(1000, Layout::AllTraffic);
    let builtin: Vec<Pattern> = trailguard_core::rule::builtin_rules()
        .expect("built-in rules")
        .into_iter()
        .map(|r| r.pattern)
        .collect();
    let unindexed = |i: usize| i % 100 == 99;
    let source_prefix = |i: usize| i % 10 == 9 && even(i / 10);
    let sets: Vec<(String, Vec<Pattern>)> = vec![
        ("10".into(), subset(&|i| i < 10)),
        ("100".into(), subset(&|i| i < 100)),
        ("1000".into(), subset(&|_| true)),
        ("all-traffic-10".into(), compile(&all_traffic[..10])),
        ("all-traffic-1000".into(), compile(&all_traffic)),
        ("builtin".into(), builtin),
        // The 1000, taken apart: where its time goes (see BENCHMARKS.md).
        ("1000-minus-unindexed".into(), subset(&|i| !unindexed(i))),
        ("unindexed-only".into(), subset(&unindexed)),
        ("source-prefix-only".into(), subset(&source_prefix)),
        (
            "eventname-keyed-only".into(),
            subset(&|i| !unindexed(i) && !source_prefix(i)),
        ),
    ];
    let sets: Vec<(String, PatternIndex, Vec<Pattern>)> = sets
        .into_iter()
        .map(|(name, p)| (name, PatternIndex::new(p.clone()), p))
        .collect();
    let set = |name: &str| -> &(String, PatternIndex, Vec<Pattern>) {
        sets.iter().find(|s| s.0 == name).expect("a rule set")
    };
    report_sets(&bare, &lines, files.len(), catalogue.len(), &sets);

    let n_bare = bare.len() as u64;
    let mut out: Vec<usize> = Vec::with_capacity(16);

    // Bare records (the archive path), parsed once: matching only.
    let mut group = c.benchmark_group("index");
    group.throughput(Throughput::Elements(n_bare));
    for n in ["10", "100", "1000", "all-traffic-10", "all-traffic-1000"] {
        let index = &set(n).1;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| black_box(match_all(&bare, index, &mut out)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("linear");
    group.throughput(Throughput::Elements(n_bare));
    let patterns = &set("1000").2;
    group.bench_function(BenchmarkId::from_parameter(patterns.len()), |b| {
        b.iter(|| {
            let mut hits = 0;
            for ev in &bare {
                for p in patterns {
                    hits += usize::from(p.matches(ev));
                }
            }
            black_box(hits)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("builtin");
    group.throughput(Throughput::Elements(n_bare));
    let index = &set("builtin").1;
    group.bench_function("pack", |b| {
        b.iter(|| black_box(match_all(&bare, index, &mut out)))
    });
    group.finish();

    // Envelopes: a fresh Event per line per iteration (an Event caches its split top
    // level), so parse alone next to parse + matching shows the matching share.
    let mut group = c.benchmark_group("envelope");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in &lines {
                let ev = Event::from_json(line.as_bytes()).expect("parses");
                n += usize::from(black_box(&ev).envelope.is_some());
            }
            black_box(n)
        })
    });
    for name in ["10", "1000", "builtin"] {
        let index = &set(name).1;
        group.bench_function(format!("parse_match_{name}"), |b| {
            b.iter(|| {
                let mut hits = 0;
                for line in &lines {
                    let ev = Event::from_json(line.as_bytes()).expect("parses");
                    out.clear();
                    index.matches_into(&ev, &mut out);
                    hits += out.len();
                }
                black_box(hits)
            })
        });
    }
    // One field read: the first read splits the event's top level, and every read
    // under `detail` splits the detail object again.
    group.bench_function("parse_read_eventName", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in &lines {
                let ev = Event::from_json(line.as_bytes()).expect("parses");
                ev.visit(&["detail", "eventName"], &mut |_, _| n += 1);
            }
            black_box(n)
        })
    });
    group.finish();

    // Diagnostics: the 1000 rules taken apart, over the bare records.
    let mut group = c.benchmark_group("parts");
    group.throughput(Throughput::Elements(n_bare));
    for name in [
        "1000-minus-unindexed",
        "unindexed-only",
        "source-prefix-only",
        "eventname-keyed-only",
    ] {
        let index = &set(name).1;
        group.bench_function(name, |b| {
            b.iter(|| black_box(match_all(&bare, index, &mut out)))
        });
    }
    group.finish();

    // Diagnostics: what one field read costs on a bare record.
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(n_bare));
    for path in [
        "detail.eventName",
        "source",
        "detail.userIdentity.type",
        "detail.requestParameters.maxCount",
    ] {
        let segments: Vec<&str> = path.split('.').collect();
        group.bench_function(path, |b| {
            b.iter(|| {
                let mut n = 0;
                for ev in &bare {
                    ev.visit(&segments, &mut |_, _| n += 1);
                }
                black_box(n)
            })
        });
    }
    group.finish();
}

criterion_group!(patterns, benches);
criterion_main!(patterns);
