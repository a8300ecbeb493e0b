import ArgumentParser
import Datasets
import Layers
import Spec

/// `runner spec`: the spec reference, every key with its default.
struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spec", abstract: "Print the spec reference: every key and its default.")

    func run() { print(specReference()) }
}

func specReference() -> String {
    var lines: [String] = []
    lines.append(
        """
        # Experiment file
        name: <file name>            run folder: runs/<name>/default
        seed: 0                      fixes initialisation, data split, shuffling, dropout
        model: <required>            a model file (path relative to this file) or an inline mapping
        data:
          dataset: <required>        \(DatasetRegistry.names.joined(separator: " | "))
          validation: 0.2            held-out examples: a count, or a fraction when < 1 (cifar10: 5000)
          shuffle: true              a new order each epoch (from the seed); false keeps the files' order
          root: data/<dataset>       cifar10, mnist, fashion_mnist: the folder with the files (cifar10: data_batch_1.bin
                                     … test_batch.bin; mnist: train-images-idx3-ubyte.gz …); missing ones are
                                     downloaded there and checked against their SHA-256 before anything trains
          url: <public address>      cifar10: the archive (default https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz);
                                     mnist, fashion_mnist: the folder holding the four .gz files (http, https or file)
          sha256: <published>        cifar10: the archive's digest; mnist, fashion_mnist: {FILE: digest, ...}
                                     image_folder: root is required, one folder of PNG/JPEG files per class
          test_root: <none>          image_folder only: the test split's folder (the same class folders)
          fit: stretch               image_folder only: stretch (resize) or crop (resize the short side, cut the centre)
          samples: 2000              xo only: examples to generate
          size: 12                   xo only: image side
          noise: 0.2                 xo only: standard deviation of pixel noise
          augment: {crop: 0, flip: false, cutout: 0}
                                     training images only, drawn from (seed, epoch, position): crop pads that many
                                     zero pixels per side and takes a random window; translate (instead of crop)
                                     shifts as far, filling from the image reflected at its border; flip: true
                                     mirrors half of them, alternating mirrors each image every other epoch (at
                                     random in the first); cutout zeroes a square of that side at a random centre
          normalize: none            or auto (per-channel mean/std of the training split) or {mean: [...], std: [...]}
          test: never                cifar10, mnist, fashion_mnist, image_folder with test_root: final or every_epoch evaluates
                                     the test split (reported, never used to choose a checkpoint or stop early)
          tta: none                  test-time augmentation of the test split and of predict (--tta overrides): flip
                                     (the image and its mirror, logits averaged) or flip_translate (also both
                                     shifted by ±1 pixel, reflected)
        loss: softmax_cross_entropy  or {softmax_cross_entropy: {label_smoothing: 0.0}}
        train:
          epochs: 10
          batch_size: 32
          optimizer: {adam: {lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1.0e-8, weight_decay: 0.0}}
                                     or {adamw: {... weight_decay: 0.01}} (decoupled decay)
                                     or {sgd: {lr: 0.01, momentum: 0.9, nesterov: false, weight_decay: 0.0}}
          schedule: constant         or {steps: {at_epochs: [21, 41], factor: 0.1}} (or values: [1.0e-4, 1.0e-5])
                                     or {cosine: {warmup_epochs: 0, min_lr: 0.0}}
                                     or {linear: {warmup_epochs: 0, start_lr: 0.0, min_lr: 0.0}} (warm-up, then a line down)
                                     at_epochs: the rate changes once that many epochs have finished
          log_every_steps: 50        console interval
          threads: 0                 0 = every core
          precision: auto            bf16 where the CPU has AVX512-BF16, else fp32; or fp32, or bf16 (bfloat16 products,
                                     float32 sums and weights; refused where the CPU lacks AVX512-BF16)
          groups: []                 optimizer settings for some parameters, the first match applying:
                                     - {parameters: "*/beta", lr_scale: 64, weight_decay_scale: 1, epochs: 3}
                                     parameters: a pattern over layer/parameter names (* any run, ? one character);
                                     lr_scale, weight_decay_scale multiply the optimizer's (weight decay applies to
                                     weights only unless a group sets weight_decay_scale: then to all it matches,
                                     biases too); epochs: trained during the first that many epochs only
          lookahead: <none>          {every: 5, decay: 0.95, power: 3}: every `every` steps the weights (and batchnorm
                                     statistics) are averaged, ema = d·ema + (1−d)·w with d = decay^every·(t/T)^power,
                                     and set to the average; after the last step they are the average (kept in checkpoints)
        checkpoint:
          every_epochs: 1            also at the end, on SIGINT/SIGTERM, and whenever keep_best improves
          keep_last: 3               the newest this many are kept …
          keep_best: val/accuracy    … and the best by this metric (or none): val/accuracy, val/loss, train/accuracy, train/loss
        tensorboard:                 event files for `tensorboard --logdir runs` (false turns them off)
          enabled: true
          scalars_every_steps: 50    batch loss/accuracy, learning rate, images/s (epoch metrics always)
          histograms_every_epochs: 1 every parameter and its gradient (0 = off)
          images_every_epochs: 5     validation examples (true vs predicted) and the first conv's filters (0 = off)
          graph: true                the layer graph for the Graphs dashboard
          text: true                 the resolved config for the Text dashboard
        early_stopping: null         or {metric: val/accuracy, mode: max, patience: 5, min_delta: 0.0} (mode: min for losses)
        sweep: null                  {dotted.key: [values], ...}: one run per combination (grid), named key=value,...
                                     or {random: N, dotted.key: {uniform: [a, b]} | {log_uniform: [a, b]} | {int_uniform: [a, b]} | [choices]}

        # Model file (or inline model:)
        input: [height, width, channels]
        layers:                      a chain by default; name: and inputs: [a, b] make a DAG
          - kind: {option: value, name: my_layer, inputs: [other_layer]}

        # Layer kinds
        """)
    for kind in LayerRegistry.kinds.sorted(by: { $0.kind < $1.kind }) {
        let inputs = kind.inputCount == 1 ... 1 ? "" : " (inputs: \(kind.inputCount.lowerBound)\(kind.inputCount.count > 1 ? "+" : ""))"
        lines.append("\(kind.kind): \(kind.summary)" + inputs)
        for option in kind.optionKeys {
            lines.append("    \(option.key): \(option.defaultValue)".padding(toLength: 30, withPad: " ", startingAt: 0) + " " + option.meaning)
        }
    }
    return lines.joined(separator: "\n")
}
