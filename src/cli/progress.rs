//! Terminal progress and Ctrl-C handling shared by the long commands.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// A flag that Ctrl-C sets; long jobs check it between steps and stop cleanly.
///
/// The first Ctrl-C asks the job to stop; a second one exits at once.
pub fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping after the current step (Ctrl-C again to quit at once)");
    });
    if let Err(error) = installed {
        tracing::debug!("Ctrl-C handler not installed: {error}");
    }
    cancel
}

/// A progress bar with an ETA on stderr (hidden when stderr is not a terminal).
pub fn bar(length: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    let template = format!(
        "{{spinner}} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {unit} \
                            (ETA {{eta}}) {{msg}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}
