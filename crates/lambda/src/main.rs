//! The Lambda bootstrap. Which of the four functions it is comes from
//! `BLANKSLATE_FUNCTION`; everything it does is in the library.

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Honours AWS_LAMBDA_LOG_LEVEL / RUST_LOG, and JSON under AWS_LAMBDA_LOG_FORMAT=JSON.
    lambda_runtime::tracing::init_default_subscriber();
    // A bad configuration fails the cold start with a message naming the variable.
    let shell = blankslate_lambda::Shell::from_env().await?;
    let shell = &shell;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        shell.handle(event.payload).await
    }))
    .await
}
