//! File dialogs on their own thread, so that the window keeps drawing (and a running job keeps
//! showing its progress) while the user picks a file.
//!
//! A panel asks a [`Question`]; the dialog thread sends back the path the user picked, and the
//! app turns the answer into the [`Command`] that does the work. The commands that take a path
//! are the same ones that tests, drag and drop and the command line use.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::{Command, MapKind, OpenRequest, ViewId};
use crate::worker::Repaint;

/// What a file dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Question {
    /// An image to open.
    OpenImage,
    /// A label for the open image.
    OpenLabel,
    /// A results folder written by `ctuq infer`.
    OpenResults,
    /// A model file for the Infer panel.
    ChooseModel,
    /// Where the Train panel writes its model.
    SaveModel,
    /// Where to write a map as TIFF.
    ExportMap(MapKind),
    /// Where to write the metrics as CSV.
    ExportMetrics,
    /// Where to write a PNG of the window, or of one view.
    Screenshot(Option<ViewId>),
}

impl Question {
    /// The command that acts on the path the user picked.
    pub fn answer(self, path: PathBuf) -> Command {
        match self {
            Question::OpenImage => Command::Open(OpenRequest {
                image: path,
                ..OpenRequest::default()
            }),
            Question::OpenLabel => Command::OpenLabel(path),
            Question::OpenResults => Command::OpenResults(path),
            Question::ChooseModel => Command::SetModel(path),
            Question::SaveModel => Command::SetTrainOutput(path),
            Question::ExportMap(kind) => Command::ExportMap(kind, path),
            Question::ExportMetrics => Command::ExportMetrics(path),
            Question::Screenshot(view) => Command::Screenshot(view, path),
        }
    }

    /// The dialog's title, which also names it while it is open.
    pub fn title(self) -> String {
        match self {
            Question::OpenImage => "Open image".into(),
            Question::OpenLabel => "Open label".into(),
            Question::OpenResults => "Open a results folder".into(),
            Question::ChooseModel => "Choose a model".into(),
            Question::SaveModel => "Save the trained model as".into(),
            Question::ExportMap(kind) => format!("Export {} as TIFF", kind.name()),
            Question::ExportMetrics => "Export metrics as CSV".into(),
            Question::Screenshot(_) => "Save a screenshot".into(),
        }
    }

    /// The dialog that asks it.
    fn dialog(self) -> rfd::AsyncFileDialog {
        let dialog = rfd::AsyncFileDialog::new().set_title(self.title());
        let volumes = ["tif", "tiff", "nii", "gz", "raw"];
        match self {
            Question::OpenImage | Question::OpenLabel => dialog.add_filter("volumes", &volumes),
            Question::OpenResults => dialog,
            Question::ChooseModel => dialog.add_filter("ctuq model", &["ctuq"]),
            Question::SaveModel => dialog
                .set_file_name("model.ctuq")
                .add_filter("ctuq model", &["ctuq"]),
            Question::ExportMap(kind) => dialog
                .set_file_name(format!("{}.tif", kind.name()))
                .add_filter("TIFF", &["tif", "tiff"]),
            Question::ExportMetrics => dialog
                .set_file_name("metrics.csv")
                .add_filter("CSV", &["csv"]),
            Question::Screenshot(view) => {
                let name = view.map_or("ctuq", ViewId::file_stem);
                dialog
                    .set_file_name(format!("{name}.png"))
                    .add_filter("PNG", &["png"])
            }
        }
    }

    /// Whether the answer is a file to write rather than one to read.
    fn saves(self) -> bool {
        matches!(
            self,
            Question::ExportMap(_)
                | Question::ExportMetrics
                | Question::Screenshot(_)
                | Question::SaveModel
        )
    }
}

/// The dialog thread's answer: the question and the path picked, or `None` if dismissed.
type Answer = (Question, Option<PathBuf>);

/// Asks questions one at a time, each on a dialog thread.
pub struct Dialogs {
    answers: (Sender<Answer>, Receiver<Answer>),
    open: Option<Question>,
}

impl Default for Dialogs {
    fn default() -> Self {
        Dialogs {
            answers: channel(),
            open: None,
        }
    }
}

impl Dialogs {
    /// Opens the dialog for `question` unless one is already open (then it is brought to
    /// mind with an error message instead).
    ///
    /// # Errors
    /// A dialog is open already, or the dialog thread could not start.
    pub fn ask(&mut self, question: Question, repaint: Repaint) -> anyhow::Result<()> {
        if let Some(open) = self.open {
            anyhow::bail!(
                "a file dialog is open already ({}): answer or close it first",
                open.title()
            );
        }
        let sender = self.answers.0.clone();
        std::thread::Builder::new()
            .name("ctuq-file-dialog".into())
            .spawn(move || {
                let dialog = question.dialog();
                let picked = if question.saves() {
                    pollster::block_on(dialog.save_file())
                } else if question == Question::OpenResults {
                    pollster::block_on(dialog.pick_folder())
                } else {
                    pollster::block_on(dialog.pick_file())
                };
                let _ = sender.send((question, picked.map(|handle| handle.path().to_path_buf())));
                repaint();
            })?;
        self.open = Some(question);
        Ok(())
    }

    /// The command for a dialog that was answered since the last call, if any.
    pub fn poll(&mut self) -> Option<Command> {
        let (question, picked) = self.answers.1.try_recv().ok()?;
        self.open = None;
        picked.map(|path| question.answer(path))
    }

    /// The question of the dialog that is open, if any.
    pub fn open(&self) -> Option<Question> {
        self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_becomes_the_command_with_its_path() {
        let path = PathBuf::from("/data/file");
        assert_eq!(
            Question::OpenImage.answer(path.clone()),
            Command::Open(OpenRequest {
                image: path.clone(),
                ..OpenRequest::default()
            })
        );
        assert_eq!(
            Question::ExportMap(MapKind::Refined).answer(path.clone()),
            Command::ExportMap(MapKind::Refined, path.clone())
        );
        assert_eq!(
            Question::Screenshot(None).answer(path.clone()),
            Command::Screenshot(None, path)
        );
        assert!(Question::ExportMetrics.saves() && !Question::OpenLabel.saves());
    }
}
