//! PLACEHOLDER: the xrm-offline command-line tool.
fn main() {
    eprintln!("xrm-offline: not written yet");
    std::process::exit(2);
}
