import AllocationCounter
import Datasets
import Foundation
import Kernels
import Plan
import Spec
import Testing
import Train

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func config(_ name: String) -> String { repositoryRoot.appendingPathComponent("configs/\(name).yaml").path }

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("runner-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func train(_ experiment: Experiment, threads: Int = 1) throws -> RunSummary {
    let data = try experiment.loadData()
    let trainer = Trainer(experiment: experiment, train: data.train, validation: data.validation, threads: threads)
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    return try trainer.run(directory: directory.path, runName: "default")
}

@Suite("Training end to end", .serialized)
struct TrainingTests {
    @Test("the allocation counter sees an allocation (so a zero below means something)")
    func counterWorks() {
        allocation_counter_start()
        let array = [Int](repeating: 1, count: Int.random(in: 100 ... 200))
        let count = allocation_counter_stop()
        #expect(array.count >= 100)
        #expect(count >= 1)
    }

    @Test("a steady-state training step allocates nothing, on one worker thread or two", arguments: [1, 2])
    func zeroAllocations(threads: Int) throws {
        var experiment = try Experiment.load(path: config("digits"))
        experiment.spec.train.batchSize = 16
        let data = try experiment.loadData()
        let trainer = Trainer(experiment: experiment, train: data.train, validation: data.validation, threads: threads)
        let plan = trainer.plan
        let pool = plan.context.compute.pool
        #expect(pool.count == threads)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: threads)
        defer { counts.deallocate() }
        let order = epochOrder(count: data.train.count, seed: 1, epoch: 0, shuffle: true)
        func step(_ index: Int) {
            data.train.fill(order: order, start: index * 16, count: 16, images: plan.input, labels: plan.labels)
            _ = plan.trainStep(batch: 16)
            trainer.optimizer.update(plan, learningRate: 1e-3)
        }
        step(0); step(1)  // warm-up: lazy initialisation in the libraries
        // Every worker counts; the caller apart (reaching the others by a closure allocates).
        pool.run { worker in if worker > 0 { allocation_counter_start() } }
        allocation_counter_start()
        for index in 2 ..< 7 { step(index) }
        plan.forward(batch: 7, training: false)  // a short inference batch too
        _ = plan.loss(batch: 7, gradient: false)
        counts[0] = allocation_counter_stop()
        pool.run { worker in if worker > 0 { counts[worker] = allocation_counter_stop() } }
        #expect((0 ..< threads).allSatisfy { counts[$0] == 0 }, "allocations per worker: \((0 ..< threads).map { counts[$0] })")
    }

    @Test("train.groups: the first matching group scales a parameter's learning rate, or stops its training after its epochs")
    func parameterGroups() throws {
        var experiment = try Experiment.load(path: config("digits"))
        experiment.spec.train.batchSize = 16
        let location = experiment.spec.location
        experiment.spec.train.groups = [
            ParameterGroup(parameters: "dense*/bias", learningRateScale: 0, location: location),  // frozen by a zero rate
            ParameterGroup(parameters: "conv1/*", epochs: 1, location: location),  // epoch 0 only
            ParameterGroup(parameters: "*/bias", learningRateScale: 5, location: location),  // dense biases matched first above
        ]
        let data = try experiment.loadData()
        let trainer = Trainer(experiment: experiment, train: data.train, validation: data.validation, threads: 2)
        let plan = trainer.plan
        func values(_ name: String) -> [Float] { Array(plan.view(of: plan.parameterTable.first { $0.name == name }!)) }
        let order = epochOrder(count: data.train.count, seed: 1, epoch: 0, shuffle: true)
        func step(_ index: Int, epoch: Int) {
            data.train.fill(order: order, start: index * 16, count: 16, images: plan.input, labels: plan.labels)
            _ = plan.trainStep(batch: 16)
            trainer.optimizer.update(plan, learningRate: 1e-3, epoch: epoch)
        }
        let names = plan.parameterTable.filter(\.spec.trainable).map(\.name)
        let before = Dictionary(uniqueKeysWithValues: names.map { ($0, values($0)) })
        step(0, epoch: 0)
        let afterEpoch0 = Dictionary(uniqueKeysWithValues: names.map { ($0, values($0)) })
        step(1, epoch: 1)
        for name in names {
            let moved0 = afterEpoch0[name] != before[name], moved1 = values(name) != afterEpoch0[name]
            if name.hasPrefix("dense") && name.hasSuffix("/bias") {
                #expect(!moved0 && !moved1, "\(name): lr_scale 0 keeps it")
            } else if name.hasPrefix("conv1/") {
                #expect(moved0 && !moved1, "\(name): trained in epoch 0 only")
            } else {
                #expect(moved0 && moved1, "\(name) trains throughout")
            }
        }
        // Adam's first step moves each parameter by about lr × scale: conv2's bias (scale 5) five times dense1's weight (scale 1).
        let conv2Bias = zip(afterEpoch0["conv2/bias"]!, before["conv2/bias"]!).map { abs($0 - $1) }.max()!
        #expect(conv2Bias > 4e-3 && conv2Bias < 6e-3, "conv2/bias moved \(conv2Bias)")
    }

    @Test("weight decay: weights only by default; a group's weight_decay_scale decays every parameter it matches, biases too")
    func groupWeightDecay() throws {
        var experiment = try Experiment.load(path: config("digits"))
        experiment.spec.train.optimizer = .sgd(learningRate: 0.5, momentum: 0, nesterov: false, weightDecay: 0.1)
        experiment.spec.train.groups = [ParameterGroup(parameters: "conv1/*", weightDecayScale: 2, location: experiment.spec.location)]
        let data = try experiment.loadData()
        let trainer = Trainer(experiment: experiment, train: data.train, validation: data.validation, threads: 1)
        let plan = trainer.plan
        // Every parameter 1 and every gradient 0: one SGD step leaves w = 1 − lr·λ·scale.
        for i in 0 ..< plan.parameters.count { plan.parameters[i] = 1 }
        for i in 0 ..< plan.gradients.count { plan.gradients[i] = 0 }
        trainer.optimizer.update(plan, learningRate: 0.5)
        for entry in plan.parameterTable where entry.spec.trainable {
            let scale: Float = entry.name.hasPrefix("conv1/") ? 2 : entry.name.hasSuffix("/weight") ? 1 : 0
            let expected = 1 - 0.5 * 0.1 * scale
            #expect(plan.view(of: entry).allSatisfy { abs($0 - expected) < 1e-6 }, "\(entry.name): expected \(expected), got \(plan.view(of: entry)[0])")
        }
    }

    @Test("the same spec and seed give bit-identical metrics; another seed does not")
    func reproducible() throws {
        var experiment = try Experiment.load(path: config("digits"))
        experiment.spec.train.epochs = 2
        let first = try train(experiment), second = try train(experiment)
        #expect(
            first.history
                == second.history.map {
                    var m = $0; m.seconds = first.history[$0.epoch - 1].seconds; m.imagesPerSecond = first.history[$0.epoch - 1].imagesPerSecond; return m
                })
        experiment.spec.seed += 1
        let other = try train(experiment)
        #expect(other.history.map(\.trainLoss) != first.history.map(\.trainLoss))
    }

    @Test("configs/xo.yaml reaches 100 % validation accuracy")
    func xo() throws {
        let summary = try train(try Experiment.load(path: config("xo")), threads: 2)
        #expect(summary.status == .completed)
        #expect(summary.final?.validationAccuracy == 1.0)
    }

    @Test("digits: a small CNN passes 97 % validation accuracy within 10 epochs")
    func digits() throws {
        var experiment = try Experiment.load(path: config("digits"))
        experiment.spec.train.epochs = 10
        let summary = try train(experiment, threads: 2)
        #expect(summary.status == .completed)
        #expect(summary.epochsCompleted == 10)
        #expect((summary.best?.validationAccuracy ?? 0) >= 0.97)
        #expect(summary.history[9].trainLoss < summary.history[0].trainLoss / 5)
    }

    @Test(
        "digits in bf16 on two workers: ≥ 97 % within 10 epochs like fp32, and bit-reproducible",
        .enabled(if: Precision.bf16.isAvailable, "this CPU has no AVX512-BF16"))
    func digitsBF16() throws {
        var experiment = try Experiment.load(path: config("digits"))
        experiment.spec.train.epochs = 10
        experiment.spec.train.precision = .bf16
        let summary = try train(experiment, threads: 2), again = try train(experiment, threads: 2)
        #expect(summary.status == .completed)
        #expect((summary.best?.validationAccuracy ?? 0) >= 0.97)
        #expect(summary.history.map(\.trainLoss) == again.history.map(\.trainLoss))
        #expect(summary.history.map(\.validationLoss) == again.history.map(\.validationLoss))
    }

    @Test("a learning rate that blows up fails the run with the step named")
    func divergence() throws {
        var experiment = try Experiment.load(path: config("xo"))
        experiment.spec.train.optimizer = .sgd(learningRate: 1e30, momentum: 0, nesterov: false, weightDecay: 0)
        let summary = try train(experiment)
        #expect(summary.status == .failed)
        #expect(summary.error?.contains("the loss became") == true)
        #expect(summary.error?.contains("at step") == true)
    }
}

@Suite("Run files")
struct RunFileTests {
    @Test("config.yaml is the resolved spec: it loads again to the same thing; summary.json is complete")
    func runDirectory() throws {
        var experiment = try Experiment.load(path: config("xo"))
        experiment.spec.train.epochs = 1
        let data = try experiment.loadData()
        let trainer = Trainer(experiment: experiment, train: data.train, validation: data.validation, threads: 1)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try trainer.run(directory: directory.path, runName: "default")
        let resolvedPath = directory.appendingPathComponent("config.yaml").path
        let resolved = try String(contentsOfFile: resolvedPath, encoding: .utf8)
        #expect(resolved.contains("batch_size: 32"))
        #expect(resolved.contains("padding: same"))  // a default, filled in
        #expect(resolved.contains("epsilon: 1.0e-08"))  // a float that YAML 1.1 readers also take for a number
        let reloaded = try Experiment.load(path: resolvedPath)
        #expect(reloaded.spec.resolvedYAML() == resolved)
        #expect(reloaded.graph.parameterCount == experiment.graph.parameterCount)
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: directory.appendingPathComponent("summary.json")))
        #expect(summary.status == .completed && summary.epochsCompleted == 1 && summary.history.count == 1)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test("the shipped cifar10_seed.yaml resolves to the tutorial's schedule")
    func seedSchedule() throws {
        let spec = try Experiment.load(path: config("cifar10_seed")).spec
        let rates = [0.0, 20.9, 21.0, 40.99, 41.0, 59.9].map { spec.train.schedule.learningRate(base: 1e-3, epoch: $0, totalEpochs: 60) }
        for (rate, expected) in zip(rates, [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5]) { #expect(abs(rate - expected) < 1e-12) }
    }

    @Test("epoch order: a seeded permutation that changes each epoch, or the files' order with shuffle: false")
    func epochOrders() throws {
        let first = epochOrder(count: 100, seed: 1, epoch: 0, shuffle: true), second = epochOrder(count: 100, seed: 1, epoch: 1, shuffle: true)
        #expect(first != second && first.sorted() == Array(0 ..< 100) && first == epochOrder(count: 100, seed: 1, epoch: 0, shuffle: true))
        #expect(epochOrder(count: 100, seed: 1, epoch: 5, shuffle: false) == Array(0 ..< 100))
        let faithful = try Experiment.load(path: config("cifar10_seed_faithful")).spec
        #expect(faithful.data.shuffle == false && faithful.resolvedYAML().contains("shuffle: false"))
        #expect(try Experiment.load(path: config("cifar10_seed")).spec.data.shuffle == true)
    }

    @Test("cosine with warm-up rises linearly, then falls to the minimum")
    func cosine() {
        let schedule = ScheduleSpec.cosine(warmupEpochs: 2, minimum: 0.1)
        #expect(schedule.learningRate(base: 1, epoch: 1, totalEpochs: 10) == 0.5)
        #expect(schedule.learningRate(base: 1, epoch: 2, totalEpochs: 10) == 1)
        #expect(abs(schedule.learningRate(base: 1, epoch: 6, totalEpochs: 10) - 0.55) < 1e-12)
        #expect(abs(schedule.learningRate(base: 1, epoch: 10, totalEpochs: 10) - 0.1) < 1e-12)
    }
}
