//! hone-train
