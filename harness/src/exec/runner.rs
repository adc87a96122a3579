//! The [`Runner`] trait: something that executes [`Command`]s.

use std::sync::Arc;

use super::command::Command;
use super::error::ExecError;
use super::output::Output;

/// Executes [`Command`]s. Implemented by [`LocalRunner`](super::LocalRunner)
/// (real processes) and [`ScriptedRunner`](super::ScriptedRunner) (tests).
#[async_trait::async_trait]
pub trait Runner: Send + Sync + std::fmt::Debug {
    /// Runs `cmd` to completion and returns its output, also when it exited
    /// unsuccessfully. Errors only when it could not be started, timed out,
    /// or (scripted runners) was not expected.
    async fn output(&self, cmd: &Command) -> Result<Output, ExecError>;

    /// Like [`Runner::output`], but an unsuccessful exit becomes
    /// [`ExecError::Failed`].
    async fn run(&self, cmd: &Command) -> Result<Output, ExecError> {
        let output = self.output(cmd).await?;
        if output.success() {
            Ok(output)
        } else {
            Err(ExecError::failed(cmd, &output))
        }
    }
}

macro_rules! forward_runner {
    ($($ty:ty),*) => {$(
        #[async_trait::async_trait]
        impl<R: Runner + ?Sized> Runner for $ty {
            async fn output(&self, cmd: &Command) -> Result<Output, ExecError> {
                (**self).output(cmd).await
            }

            async fn run(&self, cmd: &Command) -> Result<Output, ExecError> {
                (**self).run(cmd).await
            }
        }
    )*};
}

forward_runner!(&R, Box<R>, Arc<R>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Exit;

    #[derive(Debug)]
    struct Fixed(Output);

    #[async_trait::async_trait]
    impl Runner for Fixed {
        async fn output(&self, _cmd: &Command) -> Result<Output, ExecError> {
            Ok(self.0.clone())
        }
    }

    #[tokio::test]
    async fn run_maps_nonzero_exit_to_failed() {
        let cmd = Command::new("false");
        let runner = Fixed(Output::failed(2, "bad"));
        let out = runner
            .output(&cmd)
            .await
            .expect("output is Ok for non-zero exit");
        assert_eq!(out.status, Exit::Code(2));
        match runner.run(&cmd).await {
            Err(ExecError::Failed {
                command,
                exit,
                stderr,
                ..
            }) => {
                assert_eq!(command, "false");
                assert_eq!(exit, Exit::Code(2));
                assert_eq!(stderr, "bad");
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn run_passes_success_through_and_forwards_via_pointers() {
        let cmd = Command::new("true");
        let shared: Arc<dyn Runner> = Arc::new(Fixed(Output::ok("yes")));
        assert_eq!(shared.run(&cmd).await.unwrap().stdout, b"yes");
        let boxed: Box<dyn Runner> = Box::new(Fixed(Output::new(Exit::Signal(9), "", "")));
        assert!(matches!(
            boxed.run(&cmd).await,
            Err(ExecError::Failed {
                exit: Exit::Signal(9),
                ..
            })
        ));
        async fn via<R: Runner>(r: R, cmd: &Command) -> Output {
            r.output(cmd).await.unwrap()
        }
        let by_ref: &dyn Runner = &*shared;
        assert_eq!(via(by_ref, &cmd).await.stdout_str(), "yes");
    }
}
