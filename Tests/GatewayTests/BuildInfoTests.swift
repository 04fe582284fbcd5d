import Testing
@testable import Gateway

@Test("the version is a semantic version")
func versionShape() {
    #expect(BuildInfo.version.split(separator: ".").count == 3)
}
