//! Compress a file as whittle compresses layers, for bench/compress.sh:
//! `compress <gzip|zstd> <level> <input> <output>` (threads: `WHITTLE_THREADS`, default all).

use std::process::ExitCode;

use whittle_fs::Codec;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [codec, level, input, output] = args.as_slice() else {
        eprintln!("usage: compress <gzip|zstd> <level> <input> <output>");
        return ExitCode::from(2);
    };
    let codec = match codec.as_str() {
        "gzip" => Codec::Gzip,
        "zstd" => Codec::Zstd,
        other => {
            eprintln!("unknown codec `{other}`: use gzip or zstd");
            return ExitCode::from(2);
        }
    };
    let Ok(level) = level.parse::<i32>() else {
        eprintln!("level `{level}` is not a number");
        return ExitCode::from(2);
    };
    let run = || -> Result<(), Box<dyn std::error::Error>> {
        let data = std::fs::read(input)?;
        let out = whittle_fs::compress::compress(&data, codec, level, whittle_fs::threads())?;
        std::fs::write(output, out)?;
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compress: {e}");
            ExitCode::FAILURE
        }
    }
}
