import Datasets
import Foundation
import Tensor
import Testing

/// Runs Python from the test venv (it has Pillow, to write PNG and JPEG files): its exit status.
func python(_ script: String, _ arguments: [String]) throws -> Int32 { try pythonOutput(script, arguments).status }

@Suite("image_folder and predict", .serialized)
struct ImageTests {
    /// Two classes at sizes other than the model's: bright-left and bright-right images, half
    /// PNG (some RGBA, some grayscale) and half JPEG.
    static let makeImages = """
        import sys, random
        from PIL import Image
        root = sys.argv[1]
        import os
        random.seed(1)
        for split, count in (("train", 30), ("test", 6)):
            for label in ("left", "right"):
                os.makedirs(f"{root}/{split}/{label}", exist_ok=True)
                for i in range(count):
                    w, h = random.choice([(16, 16), (20, 14), (30, 24)])
                    image = Image.new("RGB", (w, h))
                    for y in range(h):
                        for x in range(w):
                            bright = (x < w // 2) == (label == "left")
                            v = random.randint(170, 255) if bright else random.randint(0, 60)
                            image.putpixel((x, y), (v, v // 2, 255 - v))
                    if i % 3 == 0: image.save(f"{root}/{split}/{label}/{i}.jpg", quality=90)
                    elif i % 3 == 1: image.convert("RGBA").save(f"{root}/{split}/{label}/{i}.png")
                    else: image.convert("L").save(f"{root}/{split}/{label}/{i}.png")
        """

    @Test("trains on a folder per class of PNG and JPEG files, then predicts their classes; a damaged image is an error naming it")
    func folderAndPredict() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        #expect(try python(Self.makeImages, [scratch.path]) == 0)
        let spec = """
            name: folder
            seed: 3
            model:
              input: [12, 12, 3]
              layers:
                - conv: {filters: 4, kernel: 3, activation: relu}
                - maxpool: {size: 2}
                - flatten: {}
                - dense: {units: 2}
            data: {dataset: image_folder, root: \(scratch.path)/train, test_root: \(scratch.path)/test, validation: 10, test: final, normalize: auto}
            train: {epochs: 8, batch_size: 10, optimizer: {adam: {lr: 0.01}}}
            """
        try spec.write(to: scratch.appendingPathComponent("folder.yaml"), atomically: true, encoding: .utf8)
        let runs = scratch.appendingPathComponent("runs").path
        let trained = try runner([scratch.appendingPathComponent("folder.yaml").path, "--runs", runs])
        #expect(trained.status == 0, "\(trained.error)")
        #expect(trained.output.contains("test_acc 100.00%"), "\(trained.output)")
        // Each checkpoint names the classes and records the normalisation (for predict and for
        // Python users); predict needs no training data once the run is trained.
        let readMetadata = """
            import glob, json, sys
            from safetensors import safe_open
            for path in glob.glob(sys.argv[1] + "/checkpoints/*.safetensors"):
                with safe_open(path, "np") as f: metadata = f.metadata()
                assert json.loads(metadata["class_names"]) == ["left", "right"], metadata["class_names"]
                normalization = json.loads(metadata["normalization"])
                assert len(normalization["mean"]) == 3 and all(0 < s < 1 for s in normalization["std"]), normalization
            """
        #expect(try python(readMetadata, [runs + "/folder/default"]) == 0)
        try FileManager.default.moveItem(at: scratch.appendingPathComponent("train"), to: scratch.appendingPathComponent("train-elsewhere"))
        let evaluated = try runner(["eval", runs + "/folder/default", "--split", "test"])
        #expect(evaluated.status == 0, "\(evaluated.error)")
        #expect(evaluated.output.contains("accuracy 100.00%"), "\(evaluated.output)")
        let predicted = try runner(["predict", runs + "/folder/default", "\(scratch.path)/test/left/0.jpg", "\(scratch.path)/test/right/1.png", "--top", "2"])
        #expect(predicted.status == 0, "\(predicted.error)")
        // The checkpoint used first (as eval says it), then a line per image.
        let checkpointLine = predicted.output.split(separator: "\n").first ?? ""
        #expect(checkpointLine.hasPrefix(runs + "/folder/default/checkpoints/step-") && checkpointLine.hasSuffix(".safetensors:"), "\(predicted.output)")
        let lines = predicted.output.split(separator: "\n").dropFirst()
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("\(scratch.path)/test/left/0.jpg: left ") == true, "\(predicted.output)")
        #expect(lines.last?.hasPrefix("\(scratch.path)/test/right/1.png: right ") == true, "\(predicted.output)")
        #expect(lines.first?.contains("%, right ") == true)

        // --tta flip averages an image with its mirror: an image and its mirror image then get
        // the same probabilities, where without it the mirror is the other class.
        let original = "\(scratch.path)/test/right/1.png", mirrored = scratch.appendingPathComponent("mirrored.png").path
        let mirror = "import sys\nfrom PIL import Image\nImage.open(sys.argv[1]).transpose(Image.FLIP_LEFT_RIGHT).save(sys.argv[2])"
        #expect(try python(mirror, [original, mirrored]) == 0)
        let plain = try runner(["predict", runs + "/folder/default", original, mirrored, "--top", "2"])
        #expect(plain.status == 0, "\(plain.error)")
        #expect(plain.output.contains("\(original): right ") && plain.output.contains("\(mirrored): left "), "\(plain.output)")
        let averaged = try runner(["predict", runs + "/folder/default", original, mirrored, "--top", "2", "--tta", "flip"])
        #expect(averaged.status == 0, "\(averaged.error)")
        #expect(averaged.output.split(separator: "\n").first?.hasSuffix(", averaging 2 views (flip):") == true, "\(averaged.output)")
        let probabilities = averaged.output.split(separator: "\n").dropFirst().map { $0.split(separator: ":", maxSplits: 1).last ?? "" }
        #expect(probabilities.count == 2 && probabilities[0] == probabilities[1], "\(averaged.output)")
        let wrong = try runner(["predict", runs + "/folder/default", original, "--tta", "mirror"])
        #expect(wrong.status == 2 && wrong.error.contains("error: --tta must be none, flip or flip_translate, got 'mirror'"), "\(wrong.error)")

        // A JPEG cut in half, and a text file named .png: one message each, naming the file.
        let jpeg = try Data(contentsOf: scratch.appendingPathComponent("test/left/0.jpg"))
        try jpeg.prefix(jpeg.count / 3).write(to: scratch.appendingPathComponent("cut.jpg"))
        try Data("not an image".utf8).write(to: scratch.appendingPathComponent("fake.png"))
        let bad = try runner([
            "predict", runs + "/folder/default", scratch.appendingPathComponent("cut.jpg").path, scratch.appendingPathComponent("fake.png").path,
        ])
        #expect(bad.status == 1)
        #expect(bad.error.contains("\(scratch.path)/fake.png: error: neither a PNG nor a JPEG file"), "\(bad.error)")
        #expect(bad.error.contains("\(scratch.path)/cut.jpg: error: the JPEG data is damaged: Premature end of JPEG file"), "\(bad.error)")
        #expect(bad.output.split(separator: "\n").count == 1, "only the checkpoint line: \(bad.output)")

        // --json: one object per image (errors too), every class at full precision, summing to 1.
        let machine = try runner(["predict", runs + "/folder/default", original, scratch.appendingPathComponent("fake.png").path, "--json"])
        #expect(machine.status == 1)
        let objects = try machine.output.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == 2)
        let classes = try #require(objects[0]["classes"] as? [[String: Any]])
        #expect(objects[0]["path"] as? String == original && objects[0]["predicted"] as? String == "right")
        #expect((objects[0]["checkpoint"] as? String)?.hasPrefix(runs + "/folder/default/checkpoints/step-") == true)
        #expect(classes.map { $0["class"] as? String } == ["right", "left"] && classes.map { $0["index"] as? Int } == [1, 0])
        let sum = classes.compactMap { $0["probability"] as? Double }.reduce(0, +)
        #expect(abs(sum - 1) < 1e-12, "\(sum)")
        // The human line's percentage is the JSON's probability rounded.
        let human = String(format: "right %.1f%%", 100 * (classes[0]["probability"] as? Double ?? 0))
        #expect(plain.output.contains("\(original): \(human)"), "\(plain.output) vs \(human)")
        #expect((objects[1]["error"] as? String)?.contains("neither a PNG nor a JPEG file") == true && objects[1]["classes"] == nil)
        let report = try runner(["eval", runs + "/folder/default", "--split", "test", "--json"])
        #expect(report.status == 0, "\(report.error)")
        let evaluation = try #require(try JSONSerialization.jsonObject(with: Data(report.output.utf8)) as? [String: Any])
        #expect(evaluation["accuracy"] as? Double == 1 && evaluation["split"] as? String == "test" && evaluation["classes"] as? [String] == ["left", "right"])
        let confusion = try #require(evaluation["confusion"] as? [[Int]])
        #expect(confusion.flatMap { $0 }.reduce(0, +) == evaluation["examples"] as? Int)
    }

    @Test("an image_folder whose root is missing is a spec error at data.root")
    func missingRoot() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let spec = """
            name: folder
            model: {input: [8, 8, 1], layers: [{flatten: {}}, {dense: {units: 2}}]}
            data: {dataset: image_folder, root: /nonexistent/images}
            """
        try spec.write(to: scratch.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let result = try runner([scratch.appendingPathComponent("bad.yaml").path, "--runs", scratch.appendingPathComponent("runs").path])
        #expect(result.status == 2)
        #expect(result.error.hasPrefix("\(scratch.path)/bad.yaml:3:37: error: no such folder"), "\(result.error)")
    }
}

@Suite("image_folder storage")
struct ImageFolderStorageTests {
    static let makeFolder = """
        import sys, os, random
        from PIL import Image
        root, odd = sys.argv[1], sys.argv[2] == "odd"
        random.seed(2)
        for label in ("a", "b"):
            os.makedirs(f"{root}/{label}", exist_ok=True)
            for i in range(3):
                size = (9, 7) if odd and label == "b" and i == 1 else (6, 5)
                image = Image.new("RGB", size)
                image.putdata([(random.randint(0, 255), random.randint(0, 255), random.randint(0, 255)) for _ in range(size[0] * size[1])])
                image.save(f"{root}/{label}/{i}.png")
        """

    @Test("a folder of images at the model's size is held as bytes; one image to resample makes it floats; the floats are the same either way")
    func bytesWhenNothingIsResampled() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let shape: Shape = [5, 6, 3]
        for odd in [false, true] {
            let root = scratch.appendingPathComponent(odd ? "odd" : "even").path
            #expect(try python(Self.makeFolder, [root, odd ? "odd" : "even"]) == 0)
            let data = try ImageFolder.load(root: root, shape: shape, fit: .stretch)
            switch data.pixels {
            case .bytes: #expect(!odd, "a folder with an image to resample must hold floats")
            case .floats: #expect(odd, "a folder of images at the model's size must hold bytes")
            }
            var expected: [Float] = []
            for label in ["a", "b"] {
                for index in 0 ..< 3 { expected += try Images.load("\(root)/\(label)/\(index).png", shape: shape, fit: .stretch) }
            }
            #expect(data.images == expected)
        }
    }
}
