# netns client
State Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
ESTAB 0      0      [2001:db8::1]:36824 [2001:db8::2]:89         
# netns server
State    Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN   0      4096   [2001:db8::2]:89            [::]:*           
SYN-RECV 0      0      [2001:db8::2]:89   [2001:db8::1]:36824       
