//! ImportKeyMaterial is retried only when KMS certainly did not act on it. The SDK's standard
//! policy also retries transient errors (HTTP 5xx, timeouts, a lost connection), but after those
//! the material may already be in KMS: sending it again could import it twice. So for that one
//! operation a throttled request (which KMS refused without acting) is retried, and everything
//! else stops the run; the import's progress file tells the next run what is left.

use aws_sdk_kms::config::interceptors::InterceptorContext;
use aws_sdk_kms::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::operation::import_key_material::ImportKeyMaterialError;
use aws_smithy_runtime_api::client::retries::classifiers::RetryClassifierPriority;

/// The error codes with which KMS refuses a request without acting on it.
pub const THROTTLING_CODES: [&str; 3] = [
    "ThrottlingException",
    "LimitExceededException",
    "TooManyRequestsException",
];

#[derive(Debug, Default)]
pub struct RetryOnlyWhenNotDelivered;

impl ClassifyRetry for RetryOnlyWhenNotDelivered {
    fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        if !matches!(previous, RetryAction::RetryIndicated(_)) {
            return RetryAction::NoActionIndicated;
        }
        let throttled = ctx
            .output_or_error()
            .and_then(|r| r.err())
            .and_then(|e| e.as_operation_error())
            .and_then(|e| e.downcast_ref::<ImportKeyMaterialError>())
            .and_then(|e| e.code())
            .is_some_and(|code| THROTTLING_CODES.contains(&code));
        if throttled {
            RetryAction::NoActionIndicated
        } else {
            RetryAction::RetryForbidden
        }
    }

    /// After every SDK classifier, so that it sees their verdict and can overrule it.
    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }

    fn name(&self) -> &'static str {
        "keyrite: retry ImportKeyMaterial only when not delivered"
    }
}
